/**
 * The small, strict CBOR subset found in an EIF signature section (RFC 8949): integers, byte and
 * text strings, arrays, maps with text or integer keys, tag 18 (COSE_Sign1), true/false/null, on
 * the shared strict decoder.
 *
 * The signature section is attacker-controlled, so the profile refuses everything nitro-cli's
 * serde_cbor never writes there: indefinite lengths, tags other than 18, floats and other simple
 * values (as well as duplicate map keys, which every profile refuses).
 */
import {
  CborError,
  decodeCbor as decodeStrict,
  type CborItem,
  type CborProfile,
} from '../cbor/index.js';
import { EifError } from './errors.js';

/** Nesting limit of arrays, maps and tags; the signature section needs 4 (array > map > array). */
export const MAX_CBOR_DEPTH = 8;

/** COSE_Sign1_Tagged (RFC 9052 §2), the only tag accepted. */
const COSE_SIGN1_TAG = 18;

const PROFILE: CborProfile = { maxDepth: MAX_CBOR_DEPTH, tags: [COSE_SIGN1_TAG] };

/** A decoded CBOR data item. Integers beyond 2^53 stay bigint. */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | CborValue[]
  | Map<string | number, CborValue>
  | CborTagged;

/** A tagged item. */
export interface CborTagged {
  tag: number;
  value: CborValue;
}

function malformed(path: string, message: string, cause?: unknown): EifError {
  return new EifError('BAD_SIGNATURE_SECTION', `${path}: malformed CBOR: ${message}`, {
    path,
    cause,
  });
}

/**
 * Decodes exactly one item filling `bytes`. Refuses (as `BAD_SIGNATURE_SECTION`, naming `path`)
 * truncation, trailing bytes, indefinite lengths, duplicate or non-text/int map keys, invalid UTF-8,
 * tags other than 18, floats and simple values other than true/false/null, and depth beyond
 * {@link MAX_CBOR_DEPTH}.
 */
export function decodeCbor(bytes: Uint8Array, path: string): CborValue {
  return toValue(decodeCborItem(bytes, path), path);
}

/** {@link decodeCbor}'s checks, returning the decoded item itself (for the shared COSE split). */
export function decodeCborItem(bytes: Uint8Array, path: string): CborItem {
  try {
    return decodeStrict(bytes, path, PROFILE);
  } catch (e) {
    if (e instanceof CborError) throw malformed(path, e.message, e);
    throw e;
  }
}

/** Plain values of a decoded item; byte strings are copied so that no value aliases the input. */
function toValue(item: CborItem, path: string): CborValue {
  switch (item.kind) {
    case 'uint':
    case 'nint':
    case 'text':
    case 'bool':
      return item.value;
    case 'null':
      return null;
    case 'bytes':
      return item.value.slice();
    case 'array':
      return item.items.map((x) => toValue(x, path));
    case 'map': {
      const out = new Map<string | number, CborValue>();
      for (const [k, v] of item.entries) {
        // The decoder takes only integer and text keys; integers beyond 2^53 have no Map key here.
        const key = k.kind === 'text' || k.kind === 'uint' || k.kind === 'nint' ? k.value : null;
        if (typeof key !== 'string' && typeof key !== 'number')
          throw malformed(
            path,
            `map key at byte ${k.start} is beyond 2^53; map keys must be text or small integers`,
          );
        out.set(key, toValue(v, path));
      }
      return out;
    }
    case 'tag':
      return { tag: COSE_SIGN1_TAG, value: toValue(item.item, path) };
    default:
      // The profile refuses every other kind while decoding.
      throw malformed(path, `unexpected ${item.kind} at byte ${item.start}`);
  }
}
