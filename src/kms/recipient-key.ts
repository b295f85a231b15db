/** The recipient key's shape and the bounds of what it opens (./recipient.ts). */
import type { KeyObject } from 'node:crypto';

/** RSA modulus of the ephemeral recipient key (KMS accepts 2048, 3072 or 4096). */
export const RECIPIENT_RSA_BITS = 2048;
/** Largest CiphertextForRecipient opened. */
export const MAX_CIPHERTEXT_FOR_RECIPIENT_BYTES = 64 * 1024;
/** id-aes256-CBC (NIST CSOR). */
export const ID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

/** An ephemeral recipient key: private half stays in the worker, SPKI DER goes to the NSM. */
export interface RecipientKey {
  spki: Uint8Array;
  privateKey: KeyObject;
}
