/**
 * The opening of `CiphertextForRecipient` (see ./recipient.ts), loaded when a key is unsealed:
 * its ASN.1 library is the heaviest part of the KMS module, which every command loads.
 * Untrusted bytes: every failure becomes `UNSEAL_RESPONSE_INVALID`.
 */
import { constants, createDecipheriv, privateDecrypt } from 'node:crypto';
import type { KeyTransRecipientInfo } from '@peculiar/asn1-cms';
import { ContentInfo, EnvelopedData, id_envelopedData } from '@peculiar/asn1-cms';
import { RsaEsOaepParams, id_RSAES_OAEP, id_mgf1, id_sha256 } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { KmsError } from './errors.js';
import type { RecipientKey } from './recipient-key.js';
import { ID_AES256_CBC, MAX_CIPHERTEXT_FOR_RECIPIENT_BYTES } from './recipient-key.js';

function invalid(why: string, cause?: unknown): KmsError {
  return new KmsError(
    'UNSEAL_RESPONSE_INVALID',
    `CiphertextForRecipient cannot be opened: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}

function checkOaep(alg: AlgorithmIdentifier): void {
  if (alg.algorithm !== id_RSAES_OAEP || alg.parameters == null)
    throw invalid(`the key is wrapped with ${alg.algorithm}, not RSAES-OAEP`);
  const p = AsnConvert.parse(alg.parameters, RsaEsOaepParams);
  const mgfHash =
    p.maskGenAlgorithm.parameters == null
      ? undefined
      : AsnConvert.parse(p.maskGenAlgorithm.parameters, AlgorithmIdentifier).algorithm;
  if (
    p.hashAlgorithm.algorithm !== id_sha256 ||
    p.maskGenAlgorithm.algorithm !== id_mgf1 ||
    mgfHash !== id_sha256
  )
    throw invalid('the OAEP parameters are not SHA-256 with MGF1-SHA-256 (RSAES_OAEP_SHA_256)');
}

function recipientOf(env: EnvelopedData): KeyTransRecipientInfo {
  if (env.recipientInfos.length !== 1) throw invalid('expected exactly one recipient');
  const ktri = env.recipientInfos[0]!.ktri;
  if (ktri === undefined) throw invalid('the recipient is not a key transport recipient');
  return ktri;
}

function contentOf(env: EnvelopedData): { iv: Uint8Array; ciphertext: Uint8Array } {
  const eci = env.encryptedContentInfo;
  const alg = eci.contentEncryptionAlgorithm;
  if (alg.algorithm !== ID_AES256_CBC || alg.parameters == null)
    throw invalid(`the content is encrypted with ${alg.algorithm}, not AES-256-CBC`);
  const iv = new Uint8Array(AsnConvert.parse(alg.parameters, OctetString).buffer);
  if (iv.length !== 16) throw invalid('the AES-256-CBC IV is not 16 bytes');
  const ec = eci.encryptedContent;
  const parts = ec?.value ? [ec.value] : (ec?.constructedValue ?? []);
  const ciphertext = Buffer.concat(parts.map((o) => new Uint8Array(o.buffer)));
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0)
    throw invalid('the encrypted content is not a whole number of AES blocks');
  return { iv, ciphertext };
}

/**
 * Opens `CiphertextForRecipient` (untrusted bytes) with the recipient's private key and returns
 * the plaintext (for a data key pair, the private key's PKCS #8 DER). Throws
 * `UNSEAL_RESPONSE_INVALID`.
 */
export function openEnvelope(cms: Uint8Array, key: RecipientKey): Uint8Array {
  if (cms.length > MAX_CIPHERTEXT_FOR_RECIPIENT_BYTES)
    throw invalid(`it is ${cms.length} bytes, more than ${MAX_CIPHERTEXT_FOR_RECIPIENT_BYTES}`);
  let env: EnvelopedData;
  try {
    const ci = AsnConvert.parse(cms, ContentInfo);
    if (ci.contentType !== id_envelopedData) throw invalid('it is not CMS EnvelopedData');
    env = AsnConvert.parse(ci.content, EnvelopedData);
  } catch (e) {
    if (e instanceof KmsError) throw e;
    throw invalid('it is not DER/BER CMS EnvelopedData', e);
  }
  let cek: Buffer;
  let content: { iv: Uint8Array; ciphertext: Uint8Array };
  try {
    const ktri = recipientOf(env);
    checkOaep(ktri.keyEncryptionAlgorithm);
    content = contentOf(env);
    cek = privateDecrypt(
      { key: key.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      new Uint8Array(ktri.encryptedKey.buffer),
    );
  } catch (e) {
    if (e instanceof KmsError) throw e;
    throw invalid('the content key cannot be unwrapped with this enclave key', e);
  }
  if (cek.length !== 32) throw invalid('the content key is not 32 bytes');
  try {
    const d = createDecipheriv('aes-256-cbc', cek, content.iv);
    return new Uint8Array(Buffer.concat([d.update(content.ciphertext), d.final()]));
  } catch (e) {
    throw invalid('the content does not decrypt (bad padding)', e);
  }
}
