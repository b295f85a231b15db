/**
 * A small deterministic CBOR encoder (RFC 8949) with exact control over the bytes: preferred
 * (shortest) heads (§4.1), definite lengths, and map entries in insertion order, so one value always
 * gives the same bytes. Keys are not sorted as §4.2.1 would: the producers we mirror write them in
 * their own order (the NSM's and nitro-cli's serde encoding: struct fields in declaration order,
 * `BTreeMap` keys ascending), and the caller builds maps in that order.
 */

/** Already-encoded CBOR bytes, inserted verbatim (used to build documents byte by byte). */
export class CborRaw {
  constructor(readonly bytes: Uint8Array) {}
}

/** A tagged item (RFC 8949 §3.4). */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** What `encodeCbor` accepts. Numbers must be safe integers; plain objects are text-keyed maps. */
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborRaw
  | CborTag
  | CborValue[]
  | Map<number | string, CborValue>
  | { [key: string]: CborValue };

const UTF8 = new TextEncoder();

class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  head(major: number, arg: number | bigint): void {
    const m = major << 5;
    const v = BigInt(arg);
    if (v < 0n || v >= 2n ** 64n) throw new RangeError(`CBOR argument ${v} out of range`);
    if (v < 24n) this.bytes(Uint8Array.of(m | Number(v)));
    else if (v < 0x100n) this.bytes(Uint8Array.of(m | 24, Number(v)));
    else if (v < 0x10000n) this.bytes(Uint8Array.of(m | 25, Number(v >> 8n), Number(v & 0xffn)));
    else {
      const n = v < 0x100000000n ? 4 : 8;
      const out = new Uint8Array(1 + n);
      out[0] = m | (n === 4 ? 26 : 27);
      for (let i = 0; i < n; i++) out[n - i] = Number((v >> BigInt(8 * i)) & 0xffn);
      this.bytes(out);
    }
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function write(w: Writer, v: CborValue): void {
  if (v === null) w.bytes(Uint8Array.of(0xf6));
  else if (v === undefined) w.bytes(Uint8Array.of(0xf7));
  else if (v === true) w.bytes(Uint8Array.of(0xf5));
  else if (v === false) w.bytes(Uint8Array.of(0xf4));
  else if (typeof v === 'number' || typeof v === 'bigint') {
    if (typeof v === 'number' && !Number.isSafeInteger(v))
      throw new TypeError(`encodeCbor: ${v} is not a safe integer`);
    const b = BigInt(v);
    if (b >= 0n) w.head(0, b);
    else w.head(1, -1n - b);
  } else if (typeof v === 'string') {
    const b = UTF8.encode(v);
    w.head(3, b.length);
    w.bytes(b);
  } else if (v instanceof Uint8Array) {
    w.head(2, v.length);
    w.bytes(v);
  } else if (v instanceof CborRaw) w.bytes(v.bytes);
  else if (v instanceof CborTag) {
    w.head(6, v.tag);
    write(w, v.value);
  } else if (Array.isArray(v)) {
    w.head(4, v.length);
    for (const x of v) write(w, x);
  } else if (v instanceof Map) {
    w.head(5, v.size);
    for (const [k, x] of v) {
      write(w, k);
      write(w, x);
    }
  } else {
    const entries = Object.entries(v);
    w.head(5, entries.length);
    for (const [k, x] of entries) {
      write(w, k);
      write(w, x);
    }
  }
}

/** Encodes `value` as CBOR with preferred heads and definite lengths. */
export function encodeCbor(value: CborValue): Uint8Array {
  const w = new Writer();
  write(w, value);
  return w.result();
}

/** Encodes only the head of an item (major type and argument), e.g. a byte string's length prefix. */
export function encodeHead(major: number, arg: number | bigint): Uint8Array {
  const w = new Writer();
  w.head(major, arg);
  return w.result();
}
