/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** True when `s` is an even-length hex string (empty allowed). */
export function isHex(s: string): boolean {
  return HEX_RE.test(s);
}

/**
 * Bytes of a hex string. Throws `TypeError` naming `what` on malformed input: callers validate user
 * input at the edge and turn this into their own error.
 */
export function fromHex(s: string, what = 'value'): Uint8Array {
  const t = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (!HEX_RE.test(t)) throw new TypeError(`${what} must be an even-length hex string`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Constant-time equality of two byte arrays (length is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
