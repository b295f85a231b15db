/**
 * Encoding of attestation documents exactly as the NSM lays them out (used by the software NSM and
 * by tests that build documents): the payload map with its nine keys in declaration order
 * (NSM API src/api/mod.rs `AttestationDoc`, serde), optional fields as null, PCRs ascending; the
 * untagged COSE_Sign1 `[h'a1013822', {}, payload, signature]`.
 */
import { CborRaw, CborTag, encodeCbor } from '../cbor/index.js';
import { COSE_ALG_ES384, COSE_SIGN1_TAG, sigStructure } from '../cose/index.js';
import { bufferSource } from './crypto.js';
import type { AttestationDocument } from './types.js';

/** The protected header of every NSM document: `{1: -35}` (alg ES384). */
export const NSM_PROTECTED_HEADER = encodeCbor(new Map([[1, COSE_ALG_ES384]]));

/** The payload bytes of `doc` in the NSM's layout. */
export function encodePayload(doc: AttestationDocument): Uint8Array {
  const pcrs = new Map<number, Uint8Array>([...doc.pcrs].sort((a, b) => a[0] - b[0]));
  return encodeCbor({
    module_id: doc.moduleId,
    digest: doc.digest,
    timestamp: doc.timestamp,
    pcrs,
    certificate: doc.certificate,
    cabundle: doc.cabundle,
    public_key: doc.publicKey,
    user_data: doc.userData,
    nonce: doc.nonce,
  });
}

/** Options of `encodeCoseSign1` for building unusual envelopes in tests. */
export interface CoseSign1Parts {
  protectedBytes?: Uint8Array;
  /** Pre-encoded unprotected header; default `{}`. */
  unprotected?: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
  /** Wrap in tag 18 (or the given tag). */
  tag?: boolean | number;
}

/** Encodes a COSE_Sign1 array from its parts. */
export function encodeCoseSign1(parts: CoseSign1Parts): Uint8Array {
  const arr = [
    parts.protectedBytes ?? NSM_PROTECTED_HEADER,
    new CborRaw(parts.unprotected ?? Uint8Array.of(0xa0)),
    parts.payload,
    parts.signature,
  ];
  if (parts.tag === undefined || parts.tag === false) return encodeCbor(arr);
  return encodeCbor(new CborTag(parts.tag === true ? COSE_SIGN1_TAG : parts.tag, arr));
}

/**
 * Signs `payload` as an NSM does: ES384 over the Sig_structure with `privateKey` (Web Crypto,
 * P-384), returning the untagged COSE_Sign1 document.
 */
export async function signDocument(
  payload: Uint8Array,
  privateKey: CryptoKey,
): Promise<Uint8Array> {
  const sig = await globalThis.crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-384' },
    privateKey,
    bufferSource(sigStructure(NSM_PROTECTED_HEADER, payload)),
  );
  return encodeCoseSign1({ payload, signature: new Uint8Array(sig) });
}
