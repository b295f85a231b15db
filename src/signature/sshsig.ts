/**
 * SSH signatures as `ssh-keygen -Y sign` writes them and git uses them (OpenSSH PROTOCOL.sshsig):
 * an armored blob carrying the signer's public key, the namespace, the hash algorithm and the
 * signature over `"SSHSIG" || string(namespace) || string(reserved) || string(hash_alg) ||
 * string(H(message))`. Verified with Web Crypto (Ed25519, ECDSA P-256/P-384, RSASSA-PKCS1-v1_5
 * with SHA-256/512), so it runs in browsers as well as in the worker.
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../util/bytes.js';
import { bufferSource } from '../util/bytes.js';
import { SignatureError } from './errors.js';
import type { SshKey } from './ssh-wire.js';
import {
  SshReader,
  decodeBase64Lines,
  malformed,
  parseSshPublicKey,
  sshFingerprint,
  sshKeyTypeName,
} from './ssh-wire.js';

/** Largest armored SSH signature read (an RSA-16384 signature and key fit well within). */
export const MAX_SSH_SIGNATURE_CHARS = 16 * 1024;

const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const MAGIC = new Uint8Array([0x53, 0x53, 0x48, 0x53, 0x49, 0x47]); // "SSHSIG"

/** A parsed SSH signature. */
export interface SshSignature {
  /** The signer's public key blob (wire form). */
  publicKey: Uint8Array;
  namespace: string;
  hashAlgorithm: 'sha256' | 'sha512';
  /** Signature algorithm named in the signature blob, e.g. `rsa-sha2-512`. */
  algorithm: string;
  /** The raw signature bytes inside the signature blob. */
  signature: Uint8Array;
}

const enc = new TextEncoder();

function sshString(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

/** Parses an armored SSH signature strictly. Throws SIGNATURE_MALFORMED. */
export function parseSshSignature(armored: string): SshSignature {
  if (armored.length > MAX_SSH_SIGNATURE_CHARS)
    malformed(`larger than ${MAX_SSH_SIGNATURE_CHARS} characters`);
  const lines = armored.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n');
  if (lines[0] !== BEGIN || lines[lines.length - 1] !== END) malformed('armor lines missing');
  const body = decodeBase64Lines(lines.slice(1, -1).join(''));
  if (body === null) malformed('armored body is not base64');
  const magic = body.subarray(0, 6);
  if (magic.length !== 6 || !magic.every((b, i) => b === MAGIC[i])) malformed('no SSHSIG preamble');
  const rest = new SshReader(body.subarray(6));
  const version = rest.uint32();
  if (version !== 1) malformed(`version ${version} (only 1 is defined)`);
  const publicKey = rest.string();
  const namespace = rest.text();
  rest.string(); // reserved
  const hashAlgorithm = rest.text();
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512')
    malformed(`hash algorithm ${hashAlgorithm} (sha256 or sha512 expected)`);
  const sigBlob = rest.string();
  rest.end('the signature');
  const s = new SshReader(sigBlob);
  const algorithm = s.text();
  const signature = s.string();
  // sk-* signatures append flags and a counter; they are left for `unsupported` below.
  if (!algorithm.startsWith('sk-')) s.end('the signature blob');
  return { publicKey, namespace, hashAlgorithm, algorithm, signature };
}

/** The bytes an SSH signature signs for `message` (PROTOCOL.sshsig, "Signed Data"). */
export function sshSignedData(sig: SshSignature, message: Uint8Array): Uint8Array {
  const h = sig.hashAlgorithm === 'sha256' ? sha256(message) : sha512(message);
  return concatBytes([
    MAGIC,
    sshString(enc.encode(sig.namespace)),
    sshString(new Uint8Array(0)),
    sshString(enc.encode(sig.hashAlgorithm)),
    sshString(h),
  ]);
}

/** ECDSA's r and s (mpints) as the fixed-width r||s Web Crypto takes. */
function ecdsaRaw(blob: Uint8Array, size: number): Uint8Array | null {
  const r = new SshReader(blob);
  const parts = [r.mpint(), r.mpint()];
  r.end('an ecdsa signature');
  const out = new Uint8Array(2 * size);
  for (const [i, p] of parts.entries()) {
    if (p.length > size) return null;
    out.set(p, i * size + size - p.length);
  }
  return out;
}

function b64url(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The outcome of checking an SSH signature with the key it carries. */
export interface SshVerification {
  keyType: string;
  fingerprint: string;
  /** The signature verifies with the key it carries, over `message`, in the expected namespace. */
  verified: boolean;
  /** Why not, when it does not. */
  reason?: string;
}

async function verifyWithKey(
  key: SshKey,
  sig: SshSignature,
  data: Uint8Array,
): Promise<string | null> {
  const subtle = globalThis.crypto.subtle;
  const sigBytes = bufferSource(sig.signature);
  if (key.type === 'ssh-ed25519') {
    if (sig.algorithm !== 'ssh-ed25519')
      return `signature algorithm ${sig.algorithm} for an ed25519 key`;
    const k = await subtle.importKey('raw', bufferSource(key.key), { name: 'Ed25519' }, false, [
      'verify',
    ]);
    return (await subtle.verify({ name: 'Ed25519' }, k, sigBytes, bufferSource(data)))
      ? null
      : 'bad signature';
  }
  if (key.type === 'ecdsa-sha2-nistp256' || key.type === 'ecdsa-sha2-nistp384') {
    if (sig.algorithm !== key.type)
      return `signature algorithm ${sig.algorithm} for an ${key.type} key`;
    const p256 = key.type === 'ecdsa-sha2-nistp256';
    const raw = ecdsaRaw(sig.signature, p256 ? 32 : 48);
    if (raw === null) return 'ecdsa signature values out of range';
    const curve = { name: 'ECDSA', namedCurve: p256 ? 'P-256' : 'P-384' };
    const k = await subtle.importKey('raw', bufferSource(key.point), curve, false, ['verify']);
    return (await subtle.verify(
      { name: 'ECDSA', hash: p256 ? 'SHA-256' : 'SHA-384' },
      k,
      bufferSource(raw),
      bufferSource(data),
    ))
      ? null
      : 'bad signature';
  }
  if (key.type === 'ssh-rsa') {
    // PROTOCOL.sshsig: SHA-1 RSA signatures (`ssh-rsa`) are not accepted.
    const hash =
      sig.algorithm === 'rsa-sha2-256'
        ? 'SHA-256'
        : sig.algorithm === 'rsa-sha2-512'
          ? 'SHA-512'
          : null;
    if (hash === null)
      return `signature algorithm ${sig.algorithm} (rsa-sha2-256 or rsa-sha2-512 expected)`;
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash };
    const k = await subtle.importKey(
      'jwk',
      { kty: 'RSA', n: b64url(key.n), e: b64url(key.e), ext: true },
      alg,
      false,
      ['verify'],
    );
    return (await subtle.verify(alg, k, sigBytes, bufferSource(data))) ? null : 'bad signature';
  }
  return `key type ${key.type === 'unsupported' ? key.name : key.type} is not supported`;
}

/**
 * Verifies an SSH signature over `message` with the key it carries, in `namespace` (git signs in
 * `git`). Throws SIGNATURE_MALFORMED for a signature that cannot be read; a readable signature
 * that does not verify is `verified: false` with a reason.
 */
export async function verifySshSignature(
  armored: string,
  message: Uint8Array,
  namespace = 'git',
): Promise<SshVerification & { publicKey: Uint8Array }> {
  const sig = parseSshSignature(armored);
  const base = {
    keyType: sshKeyTypeName(sig.publicKey),
    fingerprint: sshFingerprint(sig.publicKey),
    publicKey: sig.publicKey,
  };
  if (sig.namespace !== namespace)
    return { ...base, verified: false, reason: `namespace ${sig.namespace}, not ${namespace}` };
  let reason: string | null;
  try {
    reason = await verifyWithKey(
      parseSshPublicKey(sig.publicKey),
      sig,
      sshSignedData(sig, message),
    );
  } catch (e) {
    if (e instanceof SignatureError) throw e;
    // Web Crypto refuses points off the curve and unusable keys with a DOMException.
    reason = `the key cannot be used: ${e instanceof Error ? e.message : String(e)}`;
  }
  return reason === null ? { ...base, verified: true } : { ...base, verified: false, reason };
}
