import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Why the strict CBOR decoder refused its input. Neutral on purpose: each caller maps these to its
 * own error class and codes at its boundary. Codes are API: add, never rename.
 */
export const CBOR_ERROR_CODES = [
  'MALFORMED', // not well-formed (RFC 8949 §3, Appendix F) or invalid (bad UTF-8, §5.3.1)
  'TRAILING_BYTES', // bytes after the top-level item
  'DUPLICATE_KEY', // a map repeats a key (RFC 8949 §5.6)
  'LIMIT_EXCEEDED', // deeper nesting or more container entries than the profile allows
  'NOT_ALLOWED', // well-formed, but the profile refuses it (indefinite length, tag, float, key type)
] as const;

/** One of {@link CBOR_ERROR_CODES}. */
export type CborErrorCode = (typeof CBOR_ERROR_CODES)[number];

/**
 * A refusal of the strict decoder. `path` is the name the caller gave the input, `offset` the byte
 * the refusal is about; the message names that byte too.
 */
export class CborError extends TeeCompileError<CborErrorCode> {
  readonly offset: number;

  constructor(
    code: CborErrorCode,
    message: string,
    options: { path: string; offset: number; cause?: unknown },
  ) {
    super(code, message, options);
    this.offset = options.offset;
  }
}

/** True for errors raised by the CBOR decoder. */
export const isCborError = errorGuard(CborError);
