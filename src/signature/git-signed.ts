/**
 * The bytes git signs, split from the signature, for commits and annotated tags
 * (Documentation/technical/signature-format.txt): a commit's signature is its `gpgsig` header
 * (`gpgsig-sha256` in SHA-256 repositories) and the payload is the commit without any signature
 * header; a tag's signature is appended to its message and the payload is everything before the
 * last line that opens a signature (gpg-interface.c, `parse_signed_buffer`). Works on bytes, so
 * that a message in another encoding is signed and checked exactly as received.
 */
import type { ObjectFormat } from '../provenance/index.js';
import { concatBytes } from '../util/bytes.js';

/** The signature formats git knows, by the line that opens them. */
export type SignatureFormat = 'openpgp' | 'x509' | 'ssh';

const MARKERS: readonly (readonly [string, SignatureFormat])[] = [
  ['-----BEGIN PGP SIGNATURE-----', 'openpgp'],
  ['-----BEGIN PGP MESSAGE-----', 'openpgp'],
  ['-----BEGIN SIGNED MESSAGE-----', 'x509'],
  ['-----BEGIN SSH SIGNATURE-----', 'ssh'],
];

/** What git signed and the signature over it (null when the object is not signed). */
export interface SignedObject {
  payload: Uint8Array;
  signature: { format: SignatureFormat | null; text: string } | null;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function formatOf(text: string): SignatureFormat | null {
  for (const [marker, format] of MARKERS) if (text.startsWith(marker)) return format;
  return null;
}

function startsWithAscii(bytes: Uint8Array, at: number, s: string): boolean {
  if (at + s.length > bytes.length) return false;
  for (let i = 0; i < s.length; i++) if (bytes[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

/** Offsets of the starts of every line of `bytes`. */
function lineStarts(bytes: Uint8Array, end: number): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < end) {
    out.push(i);
    const nl = bytes.indexOf(0x0a, i);
    i = nl < 0 || nl >= end ? end : nl + 1;
  }
  return out;
}

/** The signature headers of commits, by object format (commit.c, `gpg_sig_headers`). */
const SIG_HEADER: Record<ObjectFormat, string> = { sha1: 'gpgsig', sha256: 'gpgsig-sha256' };

/**
 * Splits a raw commit object into git's signed payload and the signature of `format`. Every
 * signature header (and its continuation lines) is left out of the payload, as git does.
 */
export function splitCommitSignature(raw: Uint8Array, format: ObjectFormat): SignedObject {
  // The headers end at the first empty line.
  let headerEnd = raw.length;
  for (let i = 0; i + 1 < raw.length; i++) {
    if (raw[i] === 0x0a && raw[i + 1] === 0x0a) {
      headerEnd = i + 1;
      break;
    }
  }
  const starts = lineStarts(raw, headerEnd);
  const kept: Uint8Array[] = [];
  const sig: Uint8Array[] = [];
  let inSig: 'ours' | 'other' | null = null;
  for (let n = 0; n < starts.length; n++) {
    const s = starts[n]!;
    const e = starts[n + 1] ?? headerEnd;
    if (inSig !== null && raw[s] === 0x20) {
      if (inSig === 'ours') sig.push(raw.subarray(s + 1, e));
      continue;
    }
    inSig = null;
    for (const [fmt, key] of Object.entries(SIG_HEADER)) {
      if (startsWithAscii(raw, s, `${key} `)) {
        inSig = fmt === format ? 'ours' : 'other';
        if (inSig === 'ours') sig.push(raw.subarray(s + key.length + 1, e));
      }
    }
    if (inSig === null) kept.push(raw.subarray(s, e));
  }
  kept.push(raw.subarray(headerEnd));
  if (sig.length === 0) return { payload: raw, signature: null };
  const text = utf8.decode(concatBytes(sig));
  return { payload: concatBytes(kept), signature: { format: formatOf(text), text } };
}

/** Splits a raw annotated tag object into git's signed payload and its trailing signature. */
export function splitTagSignature(raw: Uint8Array): SignedObject {
  let match = -1;
  for (const s of lineStarts(raw, raw.length)) {
    // Markers are ASCII: a latin1 view of a line's start is enough to compare.
    if (formatOf(latin1.decode(raw.subarray(s, s + 32))) !== null) match = s;
  }
  if (match < 0) return { payload: raw, signature: null };
  const text = utf8.decode(raw.subarray(match));
  return { payload: raw.subarray(0, match), signature: { format: formatOf(text), text } };
}
