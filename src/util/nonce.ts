/**
 * The build nonce as every edge reads it (CLI flags, action inputs, the agent's form field, the
 * protocol, verify flags): hex, optionally `0x`-prefixed, of MIN_NONCE_BYTES to MAX_NONCE_BYTES
 * bytes. The NSM takes nonces of up to 512 bytes; ours are bounded tighter so that a nonce fits a
 * GitHub OIDC audience and a log line.
 */

/** Fewest nonce bytes (128 bits: unguessable). */
export const MIN_NONCE_BYTES = 16;
/** Most nonce bytes. */
export const MAX_NONCE_BYTES = 64;

/** What {@link parseNonceHex} found: the nonce in lower-case hex, or why it is refused. */
export type NonceParse =
  | { ok: true; hex: string }
  | { ok: false; reason: 'not-hex'; message: string }
  | { ok: false; reason: 'size'; bytes: number; message: string };

/** Reads a nonce given as text; the message names the expected form (for the caller's error). */
export function parseNonceHex(text: string): NonceParse {
  const hex = text.replace(/^0x/i, '');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex))
    return {
      ok: false,
      reason: 'not-hex',
      message: 'expected hex digits (an even number of them)',
    };
  const bytes = hex.length / 2;
  if (bytes < MIN_NONCE_BYTES || bytes > MAX_NONCE_BYTES)
    return {
      ok: false,
      reason: 'size',
      bytes,
      message: `expected ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes (${MIN_NONCE_BYTES * 2} to ${MAX_NONCE_BYTES * 2} hex digits), got ${bytes}`,
    };
  return { ok: true, hex: hex.toLowerCase() };
}
