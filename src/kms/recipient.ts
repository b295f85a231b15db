/**
 * The enclave's side of KMS `Decrypt` with a `Recipient`: an ephemeral RSA key whose public half
 * goes into the attestation document (`public_key`, SPKI DER: AWS KMS
 * services-nitro-enclaves.html), and the opening of what KMS returns, `CiphertextForRecipient`:
 * CMS EnvelopedData (RFC 5652 §6) whose content key is wrapped with RSAES-OAEP SHA-256 and whose
 * content is AES-256-CBC, as AWS's own enclave SDK reads it (aws-nitro-enclaves-sdk-c cms.h:
 * "RSA-OAEP with SHA256 for envelope encryption and AES-256-CBC for content encryption").
 *
 * ASN.1 by @peculiar/asn1-cms, in ./recipient-open.ts, loaded when a key is opened (BER,
 * including the constructed OCTET STRINGs a streaming encoder writes); every algorithm and
 * parameter is checked against the one combination KMS uses, and any failure on these untrusted
 * bytes becomes `UNSEAL_RESPONSE_INVALID`. Node crypto does the RSA and AES: this runs in the
 * worker only.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { RecipientKey } from './recipient-key.js';
import { RECIPIENT_RSA_BITS } from './recipient-key.js';

export {
  ID_AES256_CBC,
  MAX_CIPHERTEXT_FOR_RECIPIENT_BYTES,
  RECIPIENT_RSA_BITS,
} from './recipient-key.js';
export type { RecipientKey } from './recipient-key.js';

/** A fresh RSA-2048 recipient key. */
export function newRecipientKey(): RecipientKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: RECIPIENT_RSA_BITS,
  });
  return { spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), privateKey };
}

/**
 * Opens `CiphertextForRecipient` (untrusted bytes) with the recipient's private key and returns
 * the plaintext (for a data key pair, the private key's PKCS #8 DER). Throws
 * `UNSEAL_RESPONSE_INVALID`.
 */
export async function openForRecipient(cms: Uint8Array, key: RecipientKey): Promise<Uint8Array> {
  const { openEnvelope } = await import('./recipient-open.js');
  return openEnvelope(cms, key);
}
