/**
 * SSH wire encoding (RFC 4251 §5): `uint32`, `string` and `mpint`, read strictly from untrusted
 * bytes (bounded lengths, no reading past the end), and OpenSSH public key blobs (RFC 4253 §6.6,
 * RFC 5656 §3.1, RFC 8709 §4). Our own reader: a few dozen lines, and every failure must become
 * SIGNATURE_MALFORMED rather than a RangeError.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { fromBase64, toBase64 } from '../util/encoding.js';
import { SignatureError } from './errors.js';

export function malformed(what: string): never {
  throw new SignatureError('SIGNATURE_MALFORMED', `SSH signature is malformed: ${what}`);
}

/** A cursor over SSH wire bytes. */
export class SshReader {
  private pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  uint32(): number {
    if (this.pos + 4 > this.bytes.length) malformed('truncated');
    const b = this.bytes;
    const v =
      ((b[this.pos]! << 24) >>> 0) +
      (b[this.pos + 1]! << 16) +
      (b[this.pos + 2]! << 8) +
      b[this.pos + 3]!;
    this.pos += 4;
    return v;
  }

  string(): Uint8Array {
    const n = this.uint32();
    if (n > this.bytes.length - this.pos) malformed('a length runs past the end');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  text(): string {
    const s = this.string();
    for (const c of s) if (c < 0x20 || c > 0x7e) malformed('a name is not printable ASCII');
    return String.fromCharCode(...s);
  }

  /** An mpint as its unsigned magnitude (no leading zero); negative values are refused. */
  mpint(): Uint8Array {
    const s = this.string();
    if (s.length > 0 && (s[0]! & 0x80) !== 0) malformed('negative mpint');
    let i = 0;
    while (i < s.length && s[i] === 0) i++;
    return s.subarray(i);
  }

  end(what: string): void {
    if (this.pos !== this.bytes.length) malformed(`trailing bytes after ${what}`);
  }
}

/** The key types whose signatures tee-compile verifies, by OpenSSH name. */
export type SshKey =
  | { type: 'ssh-ed25519'; blob: Uint8Array; key: Uint8Array }
  | { type: 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384'; blob: Uint8Array; point: Uint8Array }
  | { type: 'ssh-rsa'; blob: Uint8Array; n: Uint8Array; e: Uint8Array }
  | { type: 'unsupported'; name: string; blob: Uint8Array };

/** Smallest RSA modulus accepted (bits), as OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE. */
export const MIN_RSA_BITS = 1024;

/** Parses a public key blob. Types tee-compile does not verify come back as `unsupported`. */
export function parseSshPublicKey(blob: Uint8Array): SshKey {
  const r = new SshReader(blob);
  const type = r.text();
  if (type === 'ssh-ed25519') {
    const key = r.string();
    r.end('an ed25519 key');
    if (key.length !== 32) malformed('ed25519 key is not 32 bytes');
    return { type, blob, key };
  }
  if (type === 'ecdsa-sha2-nistp256' || type === 'ecdsa-sha2-nistp384') {
    const curve = r.text();
    const point = r.string();
    r.end('an ecdsa key');
    const size = type === 'ecdsa-sha2-nistp256' ? 32 : 48;
    if (curve !== type.slice('ecdsa-sha2-'.length))
      malformed('ecdsa curve differs from the key type');
    if (point.length !== 1 + 2 * size || point[0] !== 4)
      malformed('ecdsa point is not uncompressed');
    return { type, blob, point };
  }
  if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    r.end('an rsa key');
    if (n.length * 8 < MIN_RSA_BITS) malformed(`rsa modulus smaller than ${MIN_RSA_BITS} bits`);
    if (e.length === 0 || e.length > 8) malformed('rsa exponent out of range');
    return { type, blob, n, e };
  }
  return { type: 'unsupported', name: type, blob };
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64 of its SHA-256. */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${toBase64(sha256(blob)).replace(/=+$/, '')}`;
}

/** The key type name a blob starts with (for reports), or `unknown`. */
export function sshKeyTypeName(blob: Uint8Array): string {
  try {
    return new SshReader(blob).text();
  } catch {
    return 'unknown';
  }
}

/** `<type> <base64>` as in authorized_keys and allowed signers files. */
export function sshPublicKeyText(blob: Uint8Array): string {
  return `${sshKeyTypeName(blob)} ${toBase64(blob)}`;
}

/** Decodes standard base64 that may be split over lines, or null. */
export function decodeBase64Lines(s: string): Uint8Array | null {
  return fromBase64(s.replace(/[\r\n]/g, ''));
}
