/**
 * COSE_Sign1 (RFC 9052 §4.2) for every signed CBOR structure we read or write: Nitro attestation
 * documents (ES384, NSM) and EIF PCR signatures (ES256/384/512, aws-nitro-enclaves-cose). This file
 * holds what both share: the algorithm numbers, the bytes a signature covers, the envelope's
 * encoding, and the structural split of a decoded envelope. Each caller then applies its own
 * policy (which algorithms, which headers) and its own error codes.
 */
import { encodeCbor, encodeHead, kindName, type CborItem } from '../cbor/index.js';

/** COSE tag of COSE_Sign1 (RFC 9052 §2). */
export const COSE_SIGN1_TAG = 18;
/** `alg` label in a COSE header (RFC 9052 §3.1). */
export const COSE_HEADER_ALG = 1;
/** COSE algorithm numbers (RFC 9053 §2.1) of the ECDSA curves Nitro tooling uses. */
export const COSE_ALGORITHMS = { ES256: -7, ES384: -35, ES512: -36 } as const;
export type CoseAlgorithm = keyof typeof COSE_ALGORITHMS;
/** ES384: ECDSA with SHA-384 (RFC 9053 §2.1). */
export const COSE_ALG_ES384 = COSE_ALGORITHMS.ES384;

/** Names of the algorithm numbers a refusal may want to show (RFC 9053, RFC 8230). */
export const COSE_ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  '-7': 'ES256',
  '-35': 'ES384',
  '-36': 'ES512',
  '-8': 'EdDSA',
  '-37': 'PS256',
  '-257': 'RS256',
};

const SIGNATURE1 = new TextEncoder().encode('Signature1');

/**
 * The bytes a COSE_Sign1 signature covers (RFC 9052 §4.4):
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

/** The protected header `{1: alg}` that both the NSM and aws-nitro-enclaves-cose write. */
export function encodeProtectedHeader(alg: CoseAlgorithm): Uint8Array {
  return encodeCbor(new Map([[COSE_HEADER_ALG, COSE_ALGORITHMS[alg]]]));
}

/** An untagged COSE_Sign1 with an empty unprotected map (`CoseSign1::as_bytes(false)`). */
export function encodeCoseSign1(
  protectedBytes: Uint8Array,
  payload: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  return encodeCbor([protectedBytes, new Map(), payload, signature]);
}

/** Why {@link splitCoseSign1} refused an envelope. */
export type CoseShapeFault = 'bad-tag' | 'malformed';

/** A structural refusal: what is wrong and at which part (`document`, `protected`, …). */
export interface CoseShapeError {
  fault: CoseShapeFault;
  path: 'document' | 'protected' | 'unprotected' | 'payload' | 'signature';
  message: string;
}

/** The four parts of a COSE_Sign1, byte strings exactly as received. */
export interface CoseSign1Parts {
  tagged: boolean;
  protectedBytes: Uint8Array;
  /** The unprotected header's entries (callers decide whether any are allowed). */
  unprotected: readonly (readonly [CborItem, CborItem])[];
  /** The payload, or null when detached (RFC 9052 §4.1). */
  payload: Uint8Array | null;
  signature: Uint8Array;
}

function shape(
  fault: CoseShapeFault,
  path: CoseShapeError['path'],
  message: string,
): { ok: false; error: CoseShapeError } {
  return { ok: false, error: { fault, path, message } };
}

/**
 * Splits a decoded item into the parts of a COSE_Sign1 `[protected, unprotected, payload,
 * signature]`, untagged or under tag 18 (RFC 9052 §2, §4.2). It checks the shape only.
 */
export function splitCoseSign1(
  item: CborItem,
): { ok: true; parts: CoseSign1Parts } | { ok: false; error: CoseShapeError } {
  let top = item;
  let tagged = false;
  if (top.kind === 'tag') {
    // Any other tag names another structure (RFC 9052 §2).
    if (top.tag !== COSE_SIGN1_TAG)
      return shape('bad-tag', 'document', `tagged ${top.tag}; only 18 (COSE_Sign1) is accepted`);
    if (top.item.kind === 'tag') return shape('bad-tag', 'document', 'tag 18 wraps another tag');
    tagged = true;
    top = top.item;
  }
  if (top.kind !== 'array' || top.items.length !== 4) {
    const got = top.kind === 'array' ? `an array of ${top.items.length}` : kindName(top.kind);
    return shape(
      'malformed',
      'document',
      `a COSE_Sign1 is an array of 4 items [protected, unprotected, payload, signature]; got ${got}`,
    );
  }
  const [prot, unprot, payload, sig] = top.items as [CborItem, CborItem, CborItem, CborItem];
  if (prot.kind !== 'bytes')
    return shape('malformed', 'protected', `must be a byte string; got ${kindName(prot.kind)}`);
  if (unprot.kind !== 'map')
    return shape('malformed', 'unprotected', `must be a map; got ${kindName(unprot.kind)}`);
  if (payload.kind !== 'bytes' && payload.kind !== 'null')
    return shape(
      'malformed',
      'payload',
      `must be a byte string or nil; got ${kindName(payload.kind)}`,
    );
  if (sig.kind !== 'bytes')
    return shape('malformed', 'signature', `must be a byte string; got ${kindName(sig.kind)}`);
  return {
    ok: true,
    parts: {
      tagged,
      protectedBytes: prot.value,
      unprotected: unprot.entries,
      payload: payload.kind === 'bytes' ? payload.value : null,
      signature: sig.value,
    },
  };
}

/** The `alg` entry of a decoded protected-header map, or undefined when absent. */
export function protectedAlg(map: CborItem): CborItem | undefined {
  if (map.kind !== 'map') return undefined;
  return map.entries.find(([k]) => k.kind === 'uint' && k.value === COSE_HEADER_ALG)?.[1];
}
