/**
 * The CBOR profile of attestation documents and NSM messages, on the shared strict decoder.
 *
 * Accepted: every well-formed item (RFC 8949 §3), including indefinite-length strings, arrays and
 * maps (§3.2.2, §3.2.3: a genuine document has an indefinite payload map), any tag (the COSE layer
 * names the one it wants), floats and simple values, up to the limits below. Refusals become
 * `AttestationError`s with the `CBOR_*` codes and the caller's path.
 */
import {
  CborError,
  decodeCbor as decodeStrict,
  type CborErrorCode,
  type CborItem,
  type CborProfile,
} from '../cbor/index.js';
import { fail, type AttestationErrorCode } from './errors.js';

/** Deepest nesting of arrays, maps and tags accepted (the attestation payload needs 3). */
export const MAX_CBOR_DEPTH = 16;
/** Most entries of one array or map (the payload's largest container has 32 PCRs). */
export const MAX_CBOR_CONTAINER_ITEMS = 256;

const PROFILE: CborProfile = {
  maxDepth: MAX_CBOR_DEPTH,
  maxItems: MAX_CBOR_CONTAINER_ITEMS,
  indefiniteLengths: true,
  tags: 'any',
  floats: true,
  simpleValues: true,
};

/** A map key that is neither an integer nor text is reported as malformed, as it always was. */
const CODES: Record<CborErrorCode, AttestationErrorCode> = {
  MALFORMED: 'CBOR_MALFORMED',
  TRAILING_BYTES: 'CBOR_TRAILING_BYTES',
  DUPLICATE_KEY: 'CBOR_DUPLICATE_KEY',
  LIMIT_EXCEEDED: 'CBOR_LIMIT_EXCEEDED',
  NOT_ALLOWED: 'CBOR_MALFORMED',
};

/**
 * Decodes exactly one CBOR item that must fill `bytes` (trailing bytes are refused). Errors are
 * `AttestationError`s (`CBOR_*`) whose path is `path` and whose message names the byte offset.
 */
export function decodeCbor(bytes: Uint8Array, path: string): CborItem {
  try {
    return decodeStrict(bytes, path, PROFILE);
  } catch (e) {
    if (e instanceof CborError) fail(CODES[e.code], e.message, path, e);
    throw e;
  }
}
