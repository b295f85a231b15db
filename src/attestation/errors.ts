import { TeeCompileError } from '../errors.js';
import type { AttestationErrorCode, NsmErrorCode } from './types.js';

/**
 * Every error the attestation module raises on purpose: a refusal of untrusted input (document,
 * certificate, NSM message) with a stable code from `ATTESTATION_ERROR_CODES` and, where there is
 * one, the failing field `path` (e.g. `payload.pcrs.3`, `payload.cabundle.2`).
 */
export class AttestationError extends TeeCompileError<AttestationErrorCode> {}

/** True for errors raised by the attestation module (including `NsmError`). */
export function isAttestationError(err: unknown): err is AttestationError {
  return err instanceof AttestationError;
}

/** What each NSM error code means (NSM API src/api/mod.rs, `ErrorCode`). */
const NSM_ERROR_MEANING: Record<NsmErrorCode, string> = {
  InvalidArgument: 'an input argument is invalid',
  InvalidIndex: 'the PCR index is out of bounds',
  InvalidResponse: 'the response does not correspond to the request',
  ReadOnlyIndex: 'the PCR is locked (read-only)',
  InvalidOperation: 'the request cannot be fulfilled',
  BufferTooSmall: 'the output buffer is too small',
  InputTooLarge: 'the request is too large',
  InternalError: 'the NSM failed internally',
};

/** The NSM answered a request with `{ Error: <code> }`; `nsmCode` is that code. */
export class NsmError extends AttestationError {
  readonly nsmCode: NsmErrorCode;

  constructor(nsmCode: NsmErrorCode, request: string) {
    super('NSM_ERROR', `the NSM refused ${request}: ${nsmCode} (${NSM_ERROR_MEANING[nsmCode]})`);
    this.nsmCode = nsmCode;
  }
}

/** Shorthand used by the parsers: a refusal with a code, a message and a path. */
export function fail(
  code: AttestationErrorCode,
  message: string,
  path?: string,
  cause?: unknown,
): never {
  const opts: { path?: string; cause?: unknown } = {};
  if (path !== undefined) opts.path = path;
  if (cause !== undefined) opts.cause = cause;
  throw new AttestationError(code, message, opts);
}
