import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Refusals around the KMS-sealed builder key. Codes are API: add, never rename. Each one is
 * documented in docs/builder-key.md.
 */
export const KMS_ERROR_CODES = [
  'KMS_ACCESS_DENIED', // KMS refused the call: for Decrypt, the enclave's image, role or mode is not one the key policy trusts
  'KMS_CIPHERTEXT_INVALID', // KMS cannot decrypt the sealed private key (altered, or sealed under another key)
  'KMS_KEY_NOT_FOUND', // the KMS key named does not exist (or is in another account or region)
  'KMS_REQUEST_FAILED', // any other KMS failure (network, throttling, validation); the message names KMS's error
  'SEALED_KEY_INVALID', // the sealed builder key file is malformed
  'UNSEAL_RESPONSE_INVALID', // CiphertextForRecipient cannot be opened with the enclave's key (altered, or not for it)
  'KEY_POLICY_INVALID', // the inputs of a key policy are malformed (image digests, role ARNs)
] as const;

export type KmsErrorCode = (typeof KMS_ERROR_CODES)[number];

/** A refusal around the sealed builder key (see `KMS_ERROR_CODES`). */
export class KmsError extends TeeCompileError<KmsErrorCode> {}

/** True for a `KmsError`. */
export const isKmsError = errorGuard(KmsError);
