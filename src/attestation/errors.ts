import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Closed list of refusal codes. Codes are API: add, never rename. Each is documented in
 * docs/attestation.md ("Error codes") and has a test that makes it happen.
 */
export const ATTESTATION_ERROR_CODES = [
  // Decoding (untrusted bytes)
  'CBOR_MALFORMED', // not well-formed CBOR: truncated, reserved values, bad indefinite lengths
  'CBOR_TRAILING_BYTES', // bytes after the top-level item
  'CBOR_DUPLICATE_KEY', // a map repeats a key
  'CBOR_LIMIT_EXCEEDED', // a named limit (size, depth, count) exceeded
  'COSE_MALFORMED', // not a COSE_Sign1 array [protected, unprotected, payload, signature]
  'COSE_BAD_TAG', // tagged with something other than 18
  'COSE_UNSUPPORTED_ALG', // protected header alg is not ES384 (-35)
  'DOC_FIELD_MISSING', // a mandatory payload field is absent
  'DOC_FIELD_TYPE', // a payload field has the wrong CBOR type
  'DOC_FIELD_SIZE', // a payload field has the wrong size
  'DOC_FIELD_VALUE', // a payload field has a value out of range (digest, timestamp, pcr index, unknown key)
  // Certificates and chain
  'CERT_MALFORMED', // a certificate does not parse
  'CHAIN_UNTRUSTED_ROOT', // the chain does not end in a trusted anchor
  'CHAIN_BROKEN', // issuer/subject names do not link
  'CHAIN_SIGNATURE_INVALID', // a certificate is not signed by its issuer
  'CERT_EXPIRED', // a certificate's notAfter is before the check time
  'CERT_NOT_YET_VALID', // a certificate's notBefore is after the check time
  'CERT_NOT_CA', // an issuing certificate lacks basicConstraints CA=true
  'CERT_LEAF_IS_CA', // the leaf claims to be a CA
  'CERT_PATH_LENGTH', // a pathLenConstraint is exceeded
  'CERT_KEY_USAGE', // keyCertSign missing on a CA or digitalSignature on the leaf
  'CERT_UNSUPPORTED_KEY', // a key in the chain (leaf or issuer) is not an uncompressed EC P-384 key
  'CERT_UNSUPPORTED_ALGORITHM', // a certificate is signed with something other than ecdsa-with-SHA384
  'CERT_UNKNOWN_CRITICAL_EXTENSION', // a certificate carries a critical extension we do not process
  // Signature
  'SIGNATURE_INVALID', // COSE ES384 signature does not verify with the leaf key
  // Expectations
  'PCR_MISMATCH',
  'NONCE_MISMATCH',
  'USER_DATA_MISMATCH',
  'PUBLIC_KEY_MISMATCH',
  'DOCUMENT_TOO_OLD', // older than maxAgeSeconds
  'DOCUMENT_FROM_FUTURE', // timestamp after the verifier's clock
  'DEBUG_MODE', // PCR0 all zero and debug not allowed
  // NSM request/response codec and client (never returned by verifyAttestation)
  'NSM_MESSAGE_MALFORMED', // an NSM request or response does not match the NSM API schema
  'NSM_ERROR', // the NSM answered { Error: <code> } (see NsmError.nsmCode)
] as const;

export type AttestationErrorCode = (typeof ATTESTATION_ERROR_CODES)[number];

/** The codes of the NSM's own `{ Error: <code> }` answers (NSM API src/api/mod.rs, `ErrorCode`). */
export type NsmErrorCode =
  | 'InvalidArgument'
  | 'InvalidIndex'
  | 'InvalidResponse'
  | 'ReadOnlyIndex'
  | 'InvalidOperation'
  | 'BufferTooSmall'
  | 'InputTooLarge'
  | 'InternalError';

/**
 * Every error the attestation module raises on purpose: a refusal of untrusted input (document,
 * certificate, NSM message) with a stable code from `ATTESTATION_ERROR_CODES` and, where there is
 * one, the failing field `path` (e.g. `payload.pcrs.3`, `payload.cabundle.2`).
 */
export class AttestationError extends TeeCompileError<AttestationErrorCode> {}

/** True for errors raised by the attestation module (including `NsmError`). */
export const isAttestationError = errorGuard(AttestationError);

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
  throw new AttestationError(code, message, { path, cause });
}
