/**
 * Signing and checking DSSE envelopes with ECDSA P-256 SHA-256 (Web Crypto; browser-capable).
 */
import { DsseError } from './errors.js';
import type { DsseEnvelope } from './envelope.js';
import { importP256PublicKey, keyFingerprint, keyId, signP256, verifyP256 } from './ecdsa.js';
import { pae } from './pae.js';

/** Something that signs bytes with ECDSA P-256 SHA-256 and returns a DER signature (a key, or KMS). */
export interface DsseSigner {
  /** SPKI DER of the signing key. */
  spki: Uint8Array;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A signer over a Web Crypto private key. */
export function cryptoKeySigner(privateKey: CryptoKey, spki: Uint8Array): DsseSigner {
  return { spki, sign: (data) => signP256(privateKey, data) };
}

/** A one-signature envelope over `payload`, key id = hex SHA-256 of the key's SPKI. */
export async function signEnvelope(
  signer: DsseSigner,
  payloadType: string,
  payload: Uint8Array,
): Promise<DsseEnvelope> {
  const sig = await signer.sign(pae(payloadType, payload));
  return { payloadType, payload, signatures: [{ keyid: await keyId(signer.spki), sig }] };
}

/**
 * Checks that a signature of `env` is valid over PAE(payloadType, payload) by the key `spki`
 * (SPKI DER). Key ids are hints only (DSSE protocol.md): every signature is tried against the key.
 * Throws `DSSE_SIGNATURE_INVALID` when none is, `DSSE_KEY_INVALID` for a key that is not P-256.
 */
export async function verifyEnvelope(env: DsseEnvelope, spki: Uint8Array): Promise<void> {
  const key = await importP256PublicKey(spki);
  const data = pae(env.payloadType, env.payload);
  let malformed: DsseError | undefined;
  for (const s of env.signatures) {
    try {
      if (await verifyP256(key, s.sig, data)) return;
    } catch (e) {
      if (!(e instanceof DsseError)) throw e;
      malformed = e;
    }
  }
  throw (
    malformed ??
    new DsseError(
      'DSSE_SIGNATURE_INVALID',
      `no signature of the envelope is valid for the key ${await keyFingerprint(spki)}`,
    )
  );
}
