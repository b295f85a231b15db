/**
 * The host's face of the builder key: the KMS calls through @aws-sdk/client-kms (CreateKey,
 * PutKeyPolicy, GenerateDataKeyPairWithoutPlaintext, Decrypt with a Recipient, GetPublicKey, Sign).
 */
export {
  createBuilderKey,
  kmsClient,
  kmsClientFromEnv,
  kmsFailure,
  kmsSigner,
  kmsUnsealer,
} from './client.js';
export type { CreatedBuilderKey, KmsSettings } from './client.js';
export { openHostBuilderKey } from './host-key.js';
export type { HostBuilderKey, HostBuilderKeyOptions } from './host-key.js';
export { kmsKeyRegion, openVsaSigner } from './vsa-signer.js';
export type { VsaKey } from './vsa-signer.js';
