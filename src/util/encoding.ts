/**
 * Small pure helpers for the notations lockfiles use: hex, base64 (RFC 4648 §4, strict), UTF-8.
 * No Node APIs, so the verify path can run in a browser.
 */
export { toHex, isHex } from './hex.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += B64[a >> 2]! + B64[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? '=' : B64[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? '=' : B64[c & 63]!;
  }
  return out;
}

/**
 * Decodes standard, padded base64; returns null for anything else (wrong alphabet, missing or
 * extra padding, non-zero trailing bits), so that each digest has exactly one spelling.
 */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const n = (s.length / 4) * 3 - pad;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const q: number[] = [];
    for (let j = 0; j < 4; j++) {
      const ch = s[i + j]!;
      if (ch === '=') {
        if (i + 4 !== s.length || j < 2 || (j === 2 && pad !== 2)) return null;
        q.push(0);
        continue;
      }
      const v = B64_INDEX.get(ch);
      if (v === undefined) return null;
      q.push(v);
    }
    const bits = (q[0]! << 18) | (q[1]! << 12) | (q[2]! << 6) | q[3]!;
    if (o < n) out[o++] = bits >> 16;
    if (o < n) out[o++] = (bits >> 8) & 0xff;
    if (o < n) out[o++] = bits & 0xff;
  }
  return toBase64(out) === s ? out : null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

/** Decodes UTF-8, returning null for invalid sequences. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

export { compareBytes, compareUtf8 } from './bytes.js';
