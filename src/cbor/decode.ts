/**
 * A small strict CBOR decoder (RFC 8949) for untrusted input.
 *
 * Why not cbor-x: it silently keeps the last of duplicate map keys, has no depth or size limits we
 * can name, and turns malformed input into plain JavaScript errors. Here every violation becomes a
 * `CborError` with a code and a byte offset, and the decoded tree keeps the byte offsets of every
 * item so that callers can refer to the bytes exactly as received.
 *
 * Always refused: truncation, reserved additional-information values 28..30 (§3), indefinite
 * lengths on integers or tags, stray breaks, chunks of the wrong type inside indefinite strings
 * (§3.2.3), two-byte simple values below 32 (§3.3), invalid UTF-8 in text strings (§3.1, "invalid"
 * items), duplicate map keys (§5.6), map keys that are not integers or text, and trailing bytes
 * after the top-level item. Non-preferred ("non-minimal") heads are always accepted: they are
 * well-formed, and §4.1 makes preferred serialisation a producer rule.
 *
 * What else is accepted is the caller's {@link CborProfile}: nesting depth and container size,
 * indefinite-length items (§3.2.2, §3.2.3), which tags (§3.4), floats and other simple values
 * (§3.3). Everything a profile leaves out is refused.
 */
import { concatBytes } from '../util/bytes.js';
import { CborError, type CborErrorCode } from './errors.js';

/** What a caller accepts beyond the rules every input obeys. Omitted fields mean "refuse". */
export interface CborProfile {
  /** Deepest nesting of arrays, maps and tags (a top-level array holding a scalar is depth 1). */
  readonly maxDepth: number;
  /** Most entries of one array or map. Default: only what the input's length bounds. */
  readonly maxItems?: number;
  /** Accept indefinite-length strings, arrays and maps (RFC 8949 §3.2.2, §3.2.3). */
  readonly indefiniteLengths?: boolean;
  /** Tag numbers accepted (§3.4), or `'any'`. Default: none. */
  readonly tags?: 'any' | readonly number[];
  /** Accept half, single and double precision floats (§3.3). */
  readonly floats?: boolean;
  /** Accept `undefined` and unassigned simple values; false, true and null are always accepted. */
  readonly simpleValues?: boolean;
}

interface Span {
  /** Offset of the item's first byte (its head) in the decoded input. */
  start: number;
  /** Offset just after the item. */
  end: number;
}

/** A decoded CBOR data item with its position in the input. */
export type CborItem = Span &
  (
    | { kind: 'uint'; value: number | bigint }
    | { kind: 'nint'; value: number | bigint }
    | { kind: 'bytes'; value: Uint8Array; indefinite: boolean }
    | { kind: 'text'; value: string; indefinite: boolean }
    | { kind: 'array'; items: CborItem[]; indefinite: boolean }
    | { kind: 'map'; entries: Array<[CborItem, CborItem]>; indefinite: boolean }
    | { kind: 'tag'; tag: number | bigint; item: CborItem }
    | { kind: 'bool'; value: boolean }
    | { kind: 'null' }
    | { kind: 'undefined' }
    | { kind: 'simple'; value: number }
    | { kind: 'float'; value: number }
  );

/** The kind of a {@link CborItem}. */
export type CborKind = CborItem['kind'];

// ignoreBOM: a leading U+FEFF is content; stripping it would let two different byte strings decode
// to the same text (and the same map key).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BREAK = 0xff;
const TWO_53 = 2n ** 53n;

class Reader {
  pos = 0;
  readonly maxDepth: number;
  readonly maxItems: number;
  readonly indefinite: boolean;
  readonly tags: ReadonlySet<number> | 'any';
  readonly floats: boolean;
  readonly simple: boolean;

  constructor(
    readonly bytes: Uint8Array,
    readonly path: string,
    profile: CborProfile,
  ) {
    this.maxDepth = profile.maxDepth;
    this.maxItems = profile.maxItems ?? Infinity;
    this.indefinite = profile.indefiniteLengths === true;
    this.tags = profile.tags === 'any' ? 'any' : new Set(profile.tags ?? []);
    this.floats = profile.floats === true;
    this.simple = profile.simpleValues === true;
  }

  fail(code: CborErrorCode, message: string, at: number, cause?: unknown): never {
    throw new CborError(code, message, { path: this.path, offset: at, cause });
  }

  malformed(message: string, at = this.pos): never {
    return this.fail('MALFORMED', `${message} at byte ${at}`, at);
  }

  byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) this.malformed('input ends early');
    this.pos++;
    return b;
  }

  take(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos)
      this.malformed(`a length of ${n} bytes runs past the end of the input`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads the argument of a head (RFC 8949 §3); `ai` is the additional information. */
  argument(ai: number, at: number): number | bigint {
    if (ai < 24) return ai;
    if (ai === 24) return this.byte();
    if (ai === 25) return (this.byte() << 8) | this.byte();
    if (ai === 26)
      return ((this.byte() << 24) >>> 0) + ((this.byte() << 16) | (this.byte() << 8) | this.byte());
    if (ai === 27) {
      const hi = this.argument(26, at) as number;
      const lo = this.argument(26, at) as number;
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      return v < TWO_53 ? Number(v) : v;
    }
    // 28..30 are reserved (RFC 8949 §3); 31 is handled by the callers that allow it.
    return this.malformed(`reserved additional information ${ai}`, at);
  }

  /** A length argument as a number; anything past the input is reported as truncation. */
  length(ai: number, at: number): number {
    const n = this.argument(ai, at);
    if (typeof n === 'bigint' || n > this.bytes.length)
      this.malformed(`a length of ${n} runs past the end of the input`, at);
    return n;
  }

  /** Refuses an indefinite length (additional information 31) unless the profile accepts it. */
  indefiniteAllowed(at: number): void {
    if (!this.indefinite)
      this.fail(
        'NOT_ALLOWED',
        `indefinite length at byte ${at}; indefinite lengths are not allowed here`,
        at,
      );
  }

  nested(depth: number, at: number): void {
    if (depth >= this.maxDepth)
      this.fail('LIMIT_EXCEEDED', `nesting deeper than ${this.maxDepth} at byte ${at}`, at);
  }

  tooMany(count: number, at: number): never {
    return this.fail(
      'LIMIT_EXCEEDED',
      `container at byte ${at} has ${count} entries; the limit is ${this.maxItems}`,
      at,
    );
  }
}

function decodeItem(r: Reader, depth: number): CborItem {
  const start = r.pos;
  const ib = r.byte();
  const major = ib >> 5;
  const ai = ib & 0x1f;
  switch (major) {
    case 0:
    case 1: {
      if (ai === 31) r.malformed('indefinite length on an integer', start);
      const arg = r.argument(ai, start);
      if (major === 0) return { kind: 'uint', value: arg, start, end: r.pos };
      // Negative integer -1 - arg (RFC 8949 §3.1, major type 1).
      const value =
        typeof arg === 'number' && arg < Number.MAX_SAFE_INTEGER ? -1 - arg : -1n - BigInt(arg);
      return { kind: 'nint', value, start, end: r.pos };
    }
    case 2:
    case 3: {
      let value: Uint8Array;
      const indefinite = ai === 31;
      if (indefinite) {
        r.indefiniteAllowed(start);
        value = chunks(r, major);
      } else value = r.take(r.length(ai, start));
      if (major === 2) return { kind: 'bytes', value, indefinite, start, end: r.pos };
      let text: string;
      try {
        text = UTF8.decode(value);
      } catch (e) {
        return r.fail('MALFORMED', `text string at byte ${start} is not valid UTF-8`, start, e);
      }
      return { kind: 'text', value: text, indefinite, start, end: r.pos };
    }
    case 4:
    case 5: {
      r.nested(depth, start);
      const indefinite = ai === 31;
      if (indefinite) r.indefiniteAllowed(start);
      const count = indefinite ? -1 : r.length(ai, start);
      if (count > r.maxItems) r.tooMany(count, start);
      if (major === 4) {
        const items: CborItem[] = [];
        while (indefinite ? !atBreak(r) : items.length < count) {
          if (items.length >= r.maxItems) r.tooMany(items.length + 1, start);
          items.push(decodeItem(r, depth + 1));
        }
        return { kind: 'array', items, indefinite, start, end: r.pos };
      }
      const entries: Array<[CborItem, CborItem]> = [];
      const seen = new Set<string>();
      while (indefinite ? !atBreak(r) : entries.length < count) {
        if (entries.length >= r.maxItems) r.tooMany(entries.length + 1, start);
        const key = decodeItem(r, depth + 1);
        const id = keyIdentity(r, key);
        // RFC 8949 §5.6: a map with duplicate keys is not valid; keeping either value would let two
        // decoders see two different documents behind one signature.
        if (seen.has(id))
          r.fail('DUPLICATE_KEY', `map at byte ${start} repeats the key ${id.slice(2)}`, key.start);
        seen.add(id);
        entries.push([key, decodeItem(r, depth + 1)]);
      }
      return { kind: 'map', entries, indefinite, start, end: r.pos };
    }
    case 6: {
      if (ai === 31) r.malformed('indefinite length on a tag', start);
      r.nested(depth, start);
      const tag = r.argument(ai, start);
      if (r.tags !== 'any' && !(typeof tag === 'number' && r.tags.has(tag)))
        r.fail('NOT_ALLOWED', `unexpected tag ${tag} at byte ${start}`, start);
      const item = decodeItem(r, depth + 1);
      return { kind: 'tag', tag, item, start, end: r.pos };
    }
    default:
      return simpleOrFloat(r, ai, start);
  }
}

function simpleOrFloat(r: Reader, ai: number, start: number): CborItem {
  if (ai === 20 || ai === 21) return { kind: 'bool', value: ai === 21, start, end: r.pos };
  if (ai === 22) return { kind: 'null', start, end: r.pos };
  if (ai < 24) {
    if (!r.simple) notAllowed(r, ai === 23 ? 'undefined' : `simple value ${ai}`, start);
    if (ai === 23) return { kind: 'undefined', start, end: r.pos };
    return { kind: 'simple', value: ai, start, end: r.pos };
  }
  if (ai === 24) {
    const v = r.byte();
    // RFC 8949 §3.3: simple values below 32 must use the one-byte form.
    if (v < 32) r.malformed(`two-byte simple value ${v} below 32`, start);
    if (!r.simple) notAllowed(r, `simple value ${v}`, start);
    return { kind: 'simple', value: v, start, end: r.pos };
  }
  if (ai === 25 || ai === 26 || ai === 27) {
    const n = ai === 25 ? 2 : ai === 26 ? 4 : 8;
    const b = r.take(n);
    if (!r.floats) notAllowed(r, 'floating-point number', start);
    const view = new DataView(b.buffer, b.byteOffset, n);
    const value =
      n === 2 ? half(view.getUint16(0)) : n === 4 ? view.getFloat32(0) : view.getFloat64(0);
    return { kind: 'float', value, start, end: r.pos };
  }
  if (ai === 31) return r.malformed('break outside an indefinite-length item', start);
  return r.malformed(`reserved additional information ${ai}`, start);
}

function notAllowed(r: Reader, what: string, start: number): never {
  return r.fail('NOT_ALLOWED', `${what} at byte ${start} is not allowed here`, start);
}

/** IEEE 754 half precision (RFC 8949 Appendix D). */
function half(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (mant + 1024) * 2 ** (exp - 25);
}

function atBreak(r: Reader): boolean {
  if (r.bytes[r.pos] === BREAK) {
    r.pos++;
    return true;
  }
  if (r.pos >= r.bytes.length) r.malformed('indefinite-length item is not closed');
  return false;
}

/** Indefinite-length byte or text string: definite chunks of the same major type (§3.2.3). */
function chunks(r: Reader, major: number): Uint8Array {
  const parts: Uint8Array[] = [];
  while (!atBreak(r)) {
    const at = r.pos;
    const ib = r.byte();
    if (ib >> 5 !== major || (ib & 0x1f) === 31)
      r.malformed(
        'chunk of an indefinite-length string is not a definite string of the same type',
        at,
      );
    parts.push(r.take(r.length(ib & 0x1f, at)));
  }
  return parts.length === 1 ? parts[0]! : concatBytes(parts);
}

function keyIdentity(r: Reader, key: CborItem): string {
  switch (key.kind) {
    case 'uint':
      return `u:${key.value}`;
    case 'nint':
      return `n:${key.value}`;
    case 'text':
      return `t:${JSON.stringify(key.value)}`;
    default:
      return r.fail(
        'NOT_ALLOWED',
        `map key of type ${key.kind}; only integer and text keys are accepted at byte ${key.start}`,
        key.start,
      );
  }
}

/**
 * Decodes exactly one CBOR item that must fill `bytes` (trailing bytes are refused), accepting what
 * `profile` allows. Throws `CborError` whose path is `path` and whose message names the byte.
 */
export function decodeCbor(bytes: Uint8Array, path: string, profile: CborProfile): CborItem {
  const r = new Reader(bytes, path, profile);
  const item = decodeItem(r, 0);
  if (r.pos !== bytes.length)
    r.fail(
      'TRAILING_BYTES',
      `${bytes.length - r.pos} bytes follow the item that ends at byte ${r.pos}`,
      r.pos,
    );
  return item;
}

/** Human name of a CBOR kind for messages ("a byte string"). */
export function kindName(kind: CborKind): string {
  return KIND_NAMES[kind];
}

const KIND_NAMES: Record<CborKind, string> = {
  uint: 'an unsigned integer',
  nint: 'a negative integer',
  bytes: 'a byte string',
  text: 'a text string',
  array: 'an array',
  map: 'a map',
  tag: 'a tagged item',
  bool: 'a boolean',
  null: 'null',
  undefined: 'undefined',
  simple: 'a simple value',
  float: 'a floating-point number',
};
