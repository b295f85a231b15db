/**
 * COSE_Sign1 (RFC 9052 §4.2) as the NSM produces it: `[protected, unprotected, payload, signature]`,
 * untagged or with tag 18, protected header `{1: -35}` (ES384), unprotected header `{}` and a
 * 96-byte raw r||s ECDSA P-384 signature (RFC 9053 §2.1).
 */
import { encodeHead, kindName, type CborItem } from '../cbor/index.js';
import { decodeCbor } from './cbor.js';
import { fail } from './errors.js';

/** COSE tag of COSE_Sign1 (RFC 9052 §2). */
export const COSE_SIGN1_TAG = 18;
/** `alg` label in a COSE header (RFC 9052 §3.1). */
export const COSE_HEADER_ALG = 1;
/** ES384: ECDSA with SHA-384 (RFC 9053 §2.1). */
export const COSE_ALG_ES384 = -35;
/** Raw r||s of a P-384 signature (RFC 9053 §2.1: two 48-byte integers). */
export const ES384_SIGNATURE_BYTES = 96;
/** Largest payload (NSM API docs/attestation_process.md §3.1: `bstr .size (1..16384)`). */
export const MAX_PAYLOAD_BYTES = 16384;
/** Largest document: the payload plus room for the envelope and a 96-byte signature. */
export const MAX_DOCUMENT_BYTES = MAX_PAYLOAD_BYTES + 1024;

const ALG_NAMES: Record<string, string> = {
  '-7': 'ES256',
  '-35': 'ES384',
  '-36': 'ES512',
  '-8': 'EdDSA',
  '-37': 'PS256',
  '-257': 'RS256',
};

/** The parts of a COSE_Sign1 that matter, with the signed byte strings exactly as received. */
export interface CoseSign1 {
  /** Contents of the `protected` byte string (what the signature covers). */
  protectedBytes: Uint8Array;
  /** Contents of the `payload` byte string (what the signature covers). */
  payload: Uint8Array;
  /** The raw r||s signature. */
  signature: Uint8Array;
  /** Whether the envelope carried tag 18. */
  tagged: boolean;
}

/**
 * Decodes a COSE_Sign1 envelope strictly. Refuses any tag but 18, any algorithm but ES384, any
 * protected header parameter other than `alg`, and a non-empty unprotected header.
 */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  if (bytes.length > MAX_DOCUMENT_BYTES)
    fail(
      'CBOR_LIMIT_EXCEEDED',
      `the document is ${bytes.length} bytes; the limit is ${MAX_DOCUMENT_BYTES}`,
      'document',
    );
  let top = decodeCbor(bytes, 'document');
  let tagged = false;
  if (top.kind === 'tag') {
    // RFC 9052 §4.2: COSE_Sign1_Tagged is tag 18; any other tag names another structure.
    if (top.tag !== COSE_SIGN1_TAG)
      fail(
        'COSE_BAD_TAG',
        `the document is tagged ${top.tag}; only 18 (COSE_Sign1) is accepted`,
        'document',
      );
    if (top.item.kind === 'tag')
      fail('COSE_BAD_TAG', 'the COSE_Sign1 tag wraps another tag', 'document');
    tagged = true;
    top = top.item;
  }
  if (top.kind !== 'array' || top.items.length !== 4)
    fail(
      'COSE_MALFORMED',
      `a COSE_Sign1 is an array of 4 items [protected, unprotected, payload, signature]; got ${describe(top)}`,
      'document',
    );
  const [prot, unprot, payload, sig] = top.items as [CborItem, CborItem, CborItem, CborItem];

  if (prot.kind !== 'bytes')
    fail(
      'COSE_MALFORMED',
      `the protected header must be a byte string; got ${kindName(prot.kind)}`,
      'protected',
    );
  checkProtected(prot.value);

  // RFC 9052 §3: the unprotected bucket is a map. The NSM always sends an empty one; anything in it
  // would be unsigned and could steer another verifier (e.g. a `kid` or `x5chain`), so we refuse it.
  if (unprot.kind !== 'map')
    fail(
      'COSE_MALFORMED',
      `the unprotected header must be a map; got ${kindName(unprot.kind)}`,
      'unprotected',
    );
  if (unprot.entries.length !== 0)
    fail(
      'COSE_MALFORMED',
      `the unprotected header must be empty (the NSM sends {}); it has ${unprot.entries.length} entries`,
      'unprotected',
    );

  // A nil payload would mean a detached payload (RFC 9052 §4.1); attestation documents embed theirs.
  if (payload.kind !== 'bytes')
    fail(
      'COSE_MALFORMED',
      `the payload must be a byte string; got ${kindName(payload.kind)}`,
      'payload',
    );
  if (payload.value.length === 0) fail('COSE_MALFORMED', 'the payload is empty', 'payload');
  if (payload.value.length > MAX_PAYLOAD_BYTES)
    fail(
      'CBOR_LIMIT_EXCEEDED',
      `the payload is ${payload.value.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`,
      'payload',
    );

  if (sig.kind !== 'bytes')
    fail(
      'COSE_MALFORMED',
      `the signature must be a byte string; got ${kindName(sig.kind)}`,
      'signature',
    );
  if (sig.value.length !== ES384_SIGNATURE_BYTES)
    fail(
      'COSE_MALFORMED',
      `the signature is ${sig.value.length} bytes; an ES384 signature is ${ES384_SIGNATURE_BYTES} (r||s)`,
      'signature',
    );
  return { protectedBytes: prot.value, payload: payload.value, signature: sig.value, tagged };
}

function checkProtected(bytes: Uint8Array): void {
  // RFC 9052 §3: a zero-length protected bstr means an empty map, hence no algorithm.
  if (bytes.length === 0)
    fail('COSE_MALFORMED', 'the protected header is empty: it names no algorithm', 'protected');
  const map = decodeCbor(bytes, 'protected');
  if (map.kind !== 'map')
    fail(
      'COSE_MALFORMED',
      `the protected header must encode a map; got ${kindName(map.kind)}`,
      'protected',
    );
  const alg = map.entries.find(([k]) => k.kind === 'uint' && k.value === COSE_HEADER_ALG)?.[1];
  if (alg === undefined)
    fail('COSE_MALFORMED', 'the protected header has no alg (label 1)', 'protected');
  // NSM API docs/attestation_process.md §3.1: the document is signed with ES384 ({1: -35}). Any
  // other value is refused, whatever the signature would say under it.
  if (alg.kind !== 'nint' || alg.value !== COSE_ALG_ES384) {
    const shown =
      alg.kind === 'nint' || alg.kind === 'uint' ? String(alg.value) : kindName(alg.kind);
    const name = ALG_NAMES[shown];
    fail(
      'COSE_UNSUPPORTED_ALG',
      `the document is signed with alg ${shown}${name ? ` (${name})` : ''}; only ES384 (-35) is accepted`,
      'protected.alg',
    );
  }
  if (map.entries.length !== 1)
    fail('COSE_MALFORMED', 'the protected header carries parameters other than alg', 'protected');
}

function describe(item: CborItem): string {
  return item.kind === 'array' ? `an array of ${item.items.length}` : kindName(item.kind);
}

const SIGNATURE1 = new TextEncoder().encode('Signature1');

/**
 * The bytes an ES384 COSE_Sign1 signature covers (RFC 9052 §4.4):
 * `["Signature1", protected, h'', payload]`, with both byte strings exactly as received.
 */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const ph = encodeHead(2, protectedBytes.length);
  const pl = encodeHead(2, payload.length);
  const out = new Uint8Array(
    2 + SIGNATURE1.length + ph.length + protectedBytes.length + 1 + pl.length + payload.length,
  );
  let o = 0;
  out[o++] = 0x84; // array(4)
  out[o++] = 0x60 | SIGNATURE1.length; // text(10)
  out.set(SIGNATURE1, o);
  o += SIGNATURE1.length;
  out.set(ph, o);
  o += ph.length;
  out.set(protectedBytes, o);
  o += protectedBytes.length;
  out[o++] = 0x40; // external_aad: h''
  out.set(pl, o);
  o += pl.length;
  out.set(payload, o);
  return out;
}
