/**
 * ECDSA P-256 with SHA-256 over Web Crypto, with signatures in the DER form (RFC 3279 §2.2.3
 * `Ecdsa-Sig-Value`) that DSSE tools, AWS KMS `Sign` and OpenSSL use. Web Crypto speaks the raw
 * r||s form (IEEE P1363), so signatures are converted here; the DER reader is our own and strict
 * (minimal INTEGERs, no trailing bytes) because the signature is attacker-controlled on the verify
 * path and each signature must have exactly one spelling.
 */
import { bufferSource } from '../util/bytes.js';
import { toHex } from '../util/hex.js';
import { DsseError } from './errors.js';

const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** Bytes of r and of s on P-256. */
const SCALAR = 32;
/** Longest DER signature on P-256: SEQUENCE of two 33-byte INTEGERs. */
export const MAX_P256_DER_SIGNATURE_BYTES = 72;

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

/** Imports a P-256 public key from its SubjectPublicKeyInfo DER. */
export async function importP256PublicKey(spki: Uint8Array): Promise<CryptoKey> {
  try {
    return await subtle().importKey('spki', bufferSource(spki), P256, true, ['verify']);
  } catch (e) {
    throw new DsseError(
      'DSSE_KEY_INVALID',
      'the public key is not an ECDSA P-256 SubjectPublicKeyInfo',
      {
        cause: e,
      },
    );
  }
}

/** Imports a P-256 private key from its PKCS #8 DER; returns it with its public key's SPKI DER. */
export async function importP256PrivateKey(
  pkcs8: Uint8Array,
): Promise<{ privateKey: CryptoKey; spki: Uint8Array }> {
  let privateKey: CryptoKey;
  let jwk: JsonWebKey;
  try {
    privateKey = await subtle().importKey('pkcs8', bufferSource(pkcs8), P256, true, ['sign']);
    jwk = await subtle().exportKey('jwk', privateKey);
  } catch (e) {
    throw new DsseError('DSSE_KEY_INVALID', 'the private key is not an ECDSA P-256 PKCS #8 key', {
      cause: e,
    });
  }
  const { d: _d, key_ops: _ops, ...pub } = jwk;
  const publicKey = await subtle().importKey('jwk', { ...pub, key_ops: ['verify'] }, P256, true, [
    'verify',
  ]);
  const spki = new Uint8Array(await subtle().exportKey('spki', publicKey));
  return { privateKey, spki };
}

/** `sha256:<hex>` of a key's SubjectPublicKeyInfo DER: how keys are named to people. */
export async function keyFingerprint(spki: Uint8Array): Promise<string> {
  return `sha256:${await keyId(spki)}`;
}

/**
 * The DSSE keyid of a key: hex SHA-256 of its SPKI DER (plain hex, the form securesystemslib and
 * in-toto tools accept as a key id).
 */
export async function keyId(spki: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await subtle().digest('SHA-256', bufferSource(spki))));
}

function derInteger(v: Uint8Array): Uint8Array {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const body = v[i]! & 0x80 ? [0, ...v.subarray(i)] : [...v.subarray(i)];
  return Uint8Array.from([0x02, body.length, ...body]);
}

/** DER `Ecdsa-Sig-Value` of a raw r||s signature. */
export function rawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length !== 2 * SCALAR) throw new TypeError('raw: expected 64 bytes of r||s');
  const r = derInteger(raw.subarray(0, SCALAR));
  const s = derInteger(raw.subarray(SCALAR));
  return Uint8Array.from([0x30, r.length + s.length, ...r, ...s]);
}

function badSignature(why: string): DsseError {
  return new DsseError(
    'DSSE_SIGNATURE_INVALID',
    `the signature is not a DER ECDSA P-256 signature: ${why}`,
  );
}

/** Raw r||s of a DER `Ecdsa-Sig-Value`; refuses anything but the one minimal DER spelling. */
export function derToRaw(der: Uint8Array): Uint8Array {
  if (der.length < 8 || der.length > MAX_P256_DER_SIGNATURE_BYTES)
    throw badSignature('wrong length');
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw badSignature('not one SEQUENCE');
  const out = new Uint8Array(2 * SCALAR);
  let off = 2;
  for (let k = 0; k < 2; k++) {
    if (der[off] !== 0x02) throw badSignature('expected an INTEGER');
    const len = der[off + 1]!;
    const start = off + 2;
    if (len === 0 || start + len > der.length) throw badSignature('bad INTEGER length');
    const v = der.subarray(start, start + len);
    if (v[0]! & 0x80) throw badSignature('negative INTEGER');
    if (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw badSignature('non-minimal INTEGER');
    const mag = v[0] === 0 && v.length > 1 ? v.subarray(1) : v;
    if (mag.length > SCALAR) throw badSignature('INTEGER too large');
    out.set(mag, k * SCALAR + SCALAR - mag.length);
    off = start + len;
  }
  if (off !== der.length) throw badSignature('trailing bytes');
  return out;
}

/** Signs `data` with a P-256 private key; returns the DER signature. */
export async function signP256(privateKey: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  const raw = new Uint8Array(await subtle().sign(SIGN, privateKey, bufferSource(data)));
  return rawToDer(raw);
}

/** True when `der` is a valid signature of `data` by `publicKey`; throws for a malformed one. */
export async function verifyP256(
  publicKey: CryptoKey,
  der: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const raw = derToRaw(der);
  return subtle().verify(SIGN, publicKey, bufferSource(raw), bufferSource(data));
}
