/**
 * Canonical JSON: the JSON Canonicalization Scheme (RFC 8785). Object members sorted by the UTF-16
 * code units of their names (§3.2.3), no insignificant whitespace, strings escaped as ECMAScript's
 * JSON.stringify does (§3.2.2.2), numbers in ECMAScript's shortest round-trip form (§3.2.2.3).
 * Used for the bytes of provenance.json (what the attestation hashes) and for Merkle leaves.
 */
import { utf8 } from '../../util/encoding.js';

/** Nesting deeper than this is refused: nothing we write needs it, and it bounds recursion. */
export const MAX_JSON_DEPTH = 64;

/** A value that is not plain JSON, found while canonicalising. */
export class NotJsonError extends Error {
  override name = 'NotJsonError';
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}

function canon(v: unknown, path: string, depth: number): string {
  if (depth > MAX_JSON_DEPTH) throw new NotJsonError(`nested deeper than ${MAX_JSON_DEPTH}`, path);
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new NotJsonError('not a finite number', path);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) {
        return `[${v.map((x, i) => canon(x, `${path}.${i}`, depth + 1)).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new NotJsonError('not a plain object', path);
      }
      const keys = Object.keys(v).sort();
      const parts: string[] = [];
      for (const k of keys) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) continue; // as JSON.stringify: absent
        const p = path === '' ? k : `${path}.${k}`;
        parts.push(`${JSON.stringify(k)}:${canon(x, p, depth + 1)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new NotJsonError(`a ${typeof v} is not JSON`, path);
  }
}

/**
 * The RFC 8785 canonical text of a JSON value. Throws `NotJsonError` (with the failing path) for
 * values JSON cannot carry: undefined in arrays, functions, bigints, non-finite numbers, class
 * instances such as Uint8Array or Date, and nesting deeper than `MAX_JSON_DEPTH`.
 */
export function canonicalJson(value: unknown): string {
  return canon(value, '', 0);
}

/** UTF-8 bytes of `canonicalJson(value)`. */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
