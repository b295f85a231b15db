/**
 * The small, strict CBOR subset found in an EIF signature section (RFC 8949): integers, byte and
 * text strings, arrays, maps with text or integer keys, tag 18 (COSE_Sign1), true/false/null.
 *
 * Written here rather than taken from cbor-x because the signature section is attacker-controlled
 * and cbor-x accepts what this module must refuse: duplicate map keys (last one wins),
 * indefinite lengths, and tags it turns into other objects.
 */
import { EifError } from './errors.js';

/** Nesting limit; the signature section needs 4 (array > map > array, or COSE > map). */
export const MAX_CBOR_DEPTH = 8;

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

/** True for a {@link CborTagged}. */
export function isTagged(v: CborValue): v is CborTagged {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Uint8Array) &&
    !Array.isArray(v) &&
    !(v instanceof Map)
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes exactly one item filling `bytes`. Refuses (as `BAD_SIGNATURE_SECTION`, naming `path`)
 * truncation, trailing bytes, indefinite lengths, duplicate or non-text/int map keys, invalid UTF-8,
 * tags other than 18, floats and simple values other than true/false/null, and depth beyond
 * {@link MAX_CBOR_DEPTH}.
 */
export function decodeCbor(bytes: Uint8Array, path: string): CborValue {
  let pos = 0;
  const fail = (msg: string): never => {
    throw new EifError('BAD_SIGNATURE_SECTION', `${path}: malformed CBOR at byte ${pos}: ${msg}`, {
      path,
    });
  };
  const need = (n: number): void => {
    if (n > bytes.length - pos) fail(`needs ${n} more bytes, ${bytes.length - pos} left`);
  };
  const readArg = (info: number): number | bigint => {
    if (info < 24) return info;
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let n: number | bigint;
    if (info === 24) {
      need(1);
      n = bytes[pos]!;
      pos += 1;
    } else if (info === 25) {
      need(2);
      n = v.getUint16(pos);
      pos += 2;
    } else if (info === 26) {
      need(4);
      n = v.getUint32(pos);
      pos += 4;
    } else if (info === 27) {
      need(8);
      const b = v.getBigUint64(pos);
      pos += 8;
      n = b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
    } else {
      return fail(info === 31 ? 'indefinite lengths are not allowed' : `reserved value ${info}`);
    }
    return n;
  };
  const length = (info: number): number => {
    const n = readArg(info);
    // Every element takes at least one byte, so a count beyond what is left cannot be honest.
    if (typeof n === 'bigint' || n > bytes.length - pos) fail(`length ${n} exceeds the input`);
    return n as number;
  };
  const item = (depth: number): CborValue => {
    if (depth > MAX_CBOR_DEPTH) fail(`nesting deeper than ${MAX_CBOR_DEPTH}`);
    need(1);
    const ib = bytes[pos]!;
    pos += 1;
    const major = ib >> 5;
    const info = ib & 0x1f;
    switch (major) {
      case 0:
        return readArg(info);
      case 1: {
        const n = readArg(info);
        return typeof n === 'bigint' || n >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2: {
        const n = length(info);
        need(n);
        pos += n;
        return bytes.slice(pos - n, pos);
      }
      case 3: {
        const n = length(info);
        need(n);
        pos += n;
        try {
          return utf8.decode(bytes.subarray(pos - n, pos));
        } catch {
          return fail('text string is not valid UTF-8');
        }
      }
      case 4: {
        const n = length(info);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = length(info);
        const out = new Map<string | number, CborValue>();
        for (let i = 0; i < n; i++) {
          const at = pos;
          const k = item(depth + 1);
          if (typeof k !== 'string' && typeof k !== 'number') {
            pos = at;
            fail('map keys must be text or small integers');
          }
          const key = k as string | number;
          if (out.has(key)) {
            pos = at;
            fail(`duplicate map key ${JSON.stringify(key)}`);
          }
          out.set(key, item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = readArg(info);
        if (tag !== 18) fail(`unexpected tag ${tag}`);
        return { tag: 18, value: item(depth + 1) };
      }
      default:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        return fail(`unsupported simple value or float (0x${ib.toString(16)})`);
    }
  };
  const v = item(0);
  if (pos !== bytes.length) fail(`${bytes.length - pos} trailing bytes`);
  return v;
}

/** A value the encoder writes. Maps keep their insertion order. */
export type CborEncodable =
  number | string | Uint8Array | CborEncodable[] | Map<string | number, CborEncodable>;

/**
 * Encodes with definite, shortest-form lengths, as serde_cbor does (the encoder behind the EIF
 * signature section and aws-nitro-enclaves-cose).
 */
export function encodeCbor(value: CborEncodable): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array): void => {
    parts.push(b);
    total += b.length;
  };
  const head = (major: number, n: number): void => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`cannot encode ${n}`);
    const m = major << 5;
    if (n < 24) push(Uint8Array.of(m | n));
    else if (n < 0x100) push(Uint8Array.of(m | 24, n));
    else if (n < 0x10000) push(Uint8Array.of(m | 25, n >> 8, n & 0xff));
    else if (n < 0x100000000) {
      const b = new Uint8Array(5);
      b[0] = m | 26;
      new DataView(b.buffer).setUint32(1, n);
      push(b);
    } else {
      const b = new Uint8Array(9);
      b[0] = m | 27;
      new DataView(b.buffer).setBigUint64(1, BigInt(n));
      push(b);
    }
  };
  const enc = (v: CborEncodable): void => {
    if (typeof v === 'number') {
      if (v >= 0) head(0, v);
      else head(1, -1 - v);
    } else if (typeof v === 'string') {
      const b = new TextEncoder().encode(v);
      head(3, b.length);
      push(b);
    } else if (v instanceof Uint8Array) {
      head(2, v.length);
      push(v);
    } else if (Array.isArray(v)) {
      head(4, v.length);
      for (const x of v) enc(x);
    } else {
      head(5, v.size);
      for (const [k, x] of v) {
        enc(k);
        enc(x);
      }
    }
  };
  enc(value);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
