/**
 * The KMS-sealed builder signing key (Node only): key policy generation, the sealed key file, and
 * the enclave's half of unsealing (an ephemeral RSA recipient key and the opening of
 * CiphertextForRecipient). The KMS calls themselves (@aws-sdk/client-kms) are the host's face,
 * `./aws.ts`, so that the worker never carries the SDK. See docs/builder-key.md.
 */
export { KMS_ERROR_CODES, KmsError, isKmsError } from './errors.js';
export type { KmsErrorCode } from './errors.js';
export { builderKeyPolicy } from './policy.js';
export type { BuilderKeyPolicyInput } from './policy.js';
export {
  ID_AES256_CBC,
  MAX_CIPHERTEXT_FOR_RECIPIENT_BYTES,
  RECIPIENT_RSA_BITS,
  newRecipientKey,
  openForRecipient,
} from './recipient.js';
export type { RecipientKey } from './recipient.js';
export { MAX_SEALED_KEY_FILE_BYTES, formatSealedKey, parseSealedKey } from './sealed-key.js';
export type { SealedBuilderKey } from './sealed-key.js';
