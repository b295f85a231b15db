/**
 * PEM (RFC 7468) to DER and back, for certificates and keys, with Web APIs only.
 */

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The DER of every `label` block of `pem`, in order (e.g. CERTIFICATE). Throws TypeError when a
 * block's body is not base64. Bytes are read as Latin-1 text.
 */
export function pemBlocks(pem: string | Uint8Array, label = 'CERTIFICATE'): Uint8Array[] {
  const text = typeof pem === 'string' ? pem : new TextDecoder('latin1').decode(pem);
  const re = new RegExp(`-----BEGIN ${label}-----([^-]*)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((block) => {
    // RFC 7468 §3: the base64 body may be wrapped at any width; whitespace is not data.
    const body = block[1]!.replace(/\s+/g, '');
    if (body.length === 0 || !B64_RE.test(body))
      throw new TypeError(`the PEM ${label} block is not valid base64`);
    const bin = atob(body);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  });
}

/** The DER of the single `label` block of `pem`; throws TypeError when there is not exactly one. */
export function pemToDer(pem: string | Uint8Array, label = 'CERTIFICATE'): Uint8Array {
  const blocks = pemBlocks(pem, label);
  if (blocks.length !== 1)
    throw new TypeError(`expected exactly one PEM ${label} block, found ${blocks.length}`);
  return blocks[0]!;
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
