/**
 * A strict DER reader (ITU-T X.690 §10) for the few ASN.1 structures of an X.509 certificate.
 * Only definite, minimally encoded lengths and one-byte tags are accepted; every violation becomes
 * `CERT_MALFORMED` with the certificate's path.
 */
import { fail } from './errors.js';

/** ASN.1 universal tags used by certificates (X.680 §8.4). */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One TLV: its tag, its contents and the whole encoding. */
export interface DerElement {
  tag: number;
  /** The contents octets. */
  value: Uint8Array;
  /** Tag, length and contents exactly as received. */
  raw: Uint8Array;
}

/** Reads consecutive TLVs from a byte range. */
export class DerReader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    readonly path: string,
  ) {}

  malformed(message: string): never {
    return fail('CERT_MALFORMED', `the certificate is not valid DER: ${message}`, this.path);
  }

  atEnd(): boolean {
    return this.pos >= this.bytes.length;
  }

  peekTag(): number | undefined {
    return this.bytes[this.pos];
  }

  /** Reads the next element; `tag`, when given, is required. */
  next(tag?: number, what = 'element'): DerElement {
    const start = this.pos;
    const t = this.bytes[start];
    if (t === undefined) this.malformed(`${what} missing`);
    if (tag !== undefined && t !== tag)
      this.malformed(`${what} has tag 0x${t.toString(16)}, expected 0x${tag.toString(16)}`);
    // X.690 §8.1.2.4: tag number 31 introduces a multi-byte tag, which X.509 never uses.
    if ((t & 0x1f) === 0x1f) this.malformed('multi-byte tags are not used in certificates');
    let p = start + 1;
    const first = this.bytes[p++];
    if (first === undefined) this.malformed(`${what} is truncated`);
    let len = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      // X.690 §10.1: definite form only; §8.1.3.5: 0xFF is reserved. Four length bytes suffice here.
      if (n === 0 || n > 4) this.malformed(`${what} has an indefinite or oversized length`);
      len = 0;
      for (let i = 0; i < n; i++) {
        const b = this.bytes[p++];
        if (b === undefined) this.malformed(`${what} is truncated`);
        if (i === 0 && b === 0) this.malformed(`${what} length has a leading zero byte`);
        len = len * 256 + b;
      }
      // X.690 §10.1: the shortest length form must be used.
      if (len < 0x80) this.malformed(`${what} length uses the long form for a short length`);
    }
    if (len > this.bytes.length - p) this.malformed(`${what} runs past the end of its container`);
    this.pos = p + len;
    return {
      tag: t,
      value: this.bytes.subarray(p, p + len),
      raw: this.bytes.subarray(start, p + len),
    };
  }

  /** Requires that nothing follows the elements read so far. */
  end(what: string): void {
    if (!this.atEnd()) this.malformed(`unexpected data after ${what}`);
  }

  /** A reader over the contents of a constructed element. */
  child(el: DerElement): DerReader {
    return new DerReader(el.value, this.path);
  }
}

/** Dotted form of an OBJECT IDENTIFIER's contents (X.690 §8.19). */
export function decodeOid(r: DerReader, value: Uint8Array): string {
  if (value.length === 0) r.malformed('empty object identifier');
  const arcs: number[] = [];
  let acc = 0;
  let started = false;
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    // §8.19.2: each subidentifier is minimal (no leading 0x80 octet).
    if (!started && b === 0x80) r.malformed('object identifier has a non-minimal subidentifier');
    started = true;
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER) r.malformed('object identifier arc too large');
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
      started = false;
    }
  }
  if (started) r.malformed('object identifier is truncated');
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A non-negative INTEGER's magnitude without its sign octet (X.690 §8.3, minimal form). */
export function unsignedInteger(r: DerReader, value: Uint8Array, what: string): Uint8Array {
  if (value.length === 0) r.malformed(`${what} is empty`);
  const b0 = value[0]!;
  if (
    value.length > 1 &&
    ((b0 === 0 && (value[1]! & 0x80) === 0) || (b0 === 0xff && value[1]! & 0x80))
  )
    r.malformed(`${what} is not minimally encoded`);
  if (b0 & 0x80) r.malformed(`${what} is negative`);
  return b0 === 0 && value.length > 1 ? value.subarray(1) : value;
}

/** A small non-negative INTEGER as a number. */
export function smallInteger(r: DerReader, value: Uint8Array, what: string): number {
  const mag = unsignedInteger(r, value, what);
  if (mag.length > 4) r.malformed(`${what} is too large`);
  let n = 0;
  for (const b of mag) n = n * 256 + b;
  return n;
}

/** DER BOOLEAN: one octet, 0x00 or 0xFF (X.690 §11.1). */
export function derBoolean(r: DerReader, value: Uint8Array, what: string): boolean {
  if (value.length !== 1 || (value[0] !== 0 && value[0] !== 0xff))
    r.malformed(`${what} is not a DER boolean`);
  return value[0] === 0xff;
}

/** BIT STRING contents: unused-bit count and data; unused bits must be zero (X.690 §11.2.1). */
export function bitString(
  r: DerReader,
  value: Uint8Array,
  what: string,
): { unused: number; data: Uint8Array } {
  const unused = value[0];
  if (unused === undefined || unused > 7) r.malformed(`${what} has a bad unused-bit count`);
  const data = value.subarray(1);
  if (unused > 0 && (data.length === 0 || (data[data.length - 1]! & ((1 << unused) - 1)) !== 0))
    r.malformed(`${what} has non-zero unused bits`);
  return { unused, data };
}
