import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Refusals of a DSSE envelope or key. Codes are API: add, never rename.
 */
export const DSSE_ERROR_CODES = [
  'DSSE_MALFORMED', // not an envelope in the one form tee-compile writes (shape, base64, canonical bytes)
  'DSSE_KEY_INVALID', // the public or private key is not an ECDSA P-256 key in the expected encoding
  'DSSE_SIGNATURE_INVALID', // the signature is not a DER ECDSA signature over the PAE by the given key
] as const;

export type DsseErrorCode = (typeof DSSE_ERROR_CODES)[number];

/** A refusal of an envelope, key or signature (see `DSSE_ERROR_CODES`). */
export class DsseError extends TeeCompileError<DsseErrorCode> {}

/** True for a `DsseError`. */
export const isDsseError = errorGuard(DsseError);
