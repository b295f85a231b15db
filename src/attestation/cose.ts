/**
 * COSE_Sign1 (RFC 9052 §4.2) as the NSM produces it: `[protected, unprotected, payload, signature]`,
 * untagged or with tag 18, protected header `{1: -35}` (ES384), unprotected header `{}` and a
 * 96-byte raw r||s ECDSA P-384 signature (RFC 9053 §2.1).
 */
import { kindName } from '../cbor/index.js';
import {
  COSE_ALGORITHM_NAMES,
  COSE_ALG_ES384,
  protectedAlg,
  splitCoseSign1,
} from '../cose/index.js';
import { decodeCbor } from './cbor.js';
import { fail } from './errors.js';

/** Raw r||s of a P-384 signature (RFC 9053 §2.1: two 48-byte integers). */
export const ES384_SIGNATURE_BYTES = 96;
/** Largest payload (NSM API docs/attestation_process.md §3.1: `bstr .size (1..16384)`). */
export const MAX_PAYLOAD_BYTES = 16384;
/** Largest document: the payload plus room for the envelope and a 96-byte signature. */
export const MAX_DOCUMENT_BYTES = MAX_PAYLOAD_BYTES + 1024;

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
  const split = splitCoseSign1(decodeCbor(bytes, 'document'));
  if (!split.ok) {
    const { fault, path, message } = split.error;
    fail(fault === 'bad-tag' ? 'COSE_BAD_TAG' : 'COSE_MALFORMED', `${path}: ${message}`, path);
  }
  const { tagged, protectedBytes, unprotected, payload, signature } = split.parts;
  checkProtected(protectedBytes);

  // RFC 9052 §3: the NSM always sends an empty unprotected map; anything in it would be unsigned
  // and could steer another verifier (e.g. a `kid` or `x5chain`), so we refuse it.
  if (unprotected.length !== 0)
    fail(
      'COSE_MALFORMED',
      `the unprotected header must be empty (the NSM sends {}); it has ${unprotected.length} entries`,
      'unprotected',
    );
  // A nil payload would mean a detached payload (RFC 9052 §4.1); attestation documents embed theirs.
  if (payload === null)
    fail('COSE_MALFORMED', 'the payload must be a byte string; got null', 'payload');
  if (payload.length === 0) fail('COSE_MALFORMED', 'the payload is empty', 'payload');
  if (payload.length > MAX_PAYLOAD_BYTES)
    fail(
      'CBOR_LIMIT_EXCEEDED',
      `the payload is ${payload.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`,
      'payload',
    );
  if (signature.length !== ES384_SIGNATURE_BYTES)
    fail(
      'COSE_MALFORMED',
      `the signature is ${signature.length} bytes; an ES384 signature is ${ES384_SIGNATURE_BYTES} (r||s)`,
      'signature',
    );
  return { protectedBytes, payload, signature, tagged };
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
  const alg = protectedAlg(map);
  if (alg === undefined)
    fail('COSE_MALFORMED', 'the protected header has no alg (label 1)', 'protected');
  // NSM API docs/attestation_process.md §3.1: the document is signed with ES384 ({1: -35}). Any
  // other value is refused, whatever the signature would say under it.
  if (alg.kind !== 'nint' || alg.value !== COSE_ALG_ES384) {
    const shown =
      alg.kind === 'nint' || alg.kind === 'uint' ? String(alg.value) : kindName(alg.kind);
    const name = COSE_ALGORITHM_NAMES[shown];
    fail(
      'COSE_UNSUPPORTED_ALG',
      `the document is signed with alg ${shown}${name ? ` (${name})` : ''}; only ES384 (-35) is accepted`,
      'protected.alg',
    );
  }
  if (map.entries.length !== 1)
    fail('COSE_MALFORMED', 'the protected header carries parameters other than alg', 'protected');
}
