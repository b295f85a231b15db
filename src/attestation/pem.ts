/**
 * PEM (RFC 7468) to DER and back, for certificates and keys, with Web APIs only.
 */

const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** The DER of the single `label` block of `pem` (e.g. CERTIFICATE); throws TypeError otherwise. */
export function pemToDer(pem: string, label = 'CERTIFICATE'): Uint8Array {
  const re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, 'g');
  const blocks = [...pem.matchAll(re)];
  if (blocks.length !== 1)
    throw new TypeError(`expected exactly one PEM ${label} block, found ${blocks.length}`);
  // RFC 7468 §3: the base64 body may be wrapped at any width; whitespace is not data.
  const body = blocks[0]![1]!.replace(/\s+/g, '');
  if (body.length === 0 || body.length % 4 !== 0 || !B64_RE.test(body))
    throw new TypeError(`the PEM ${label} block is not valid base64`);
  const bin = atob(body);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** PEM text of `der` with lines of 64 characters (RFC 7468 §2). */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  let bin = '';
  for (let i = 0; i < der.length; i += 4096)
    bin += String.fromCharCode(...der.subarray(i, i + 4096));
  const b64 = btoa(bin);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
