import { describe, expect, it } from '@jest/globals';
import {
  MAX_CBOR_CONTAINER_ITEMS,
  MAX_CBOR_DEPTH,
  decodeCbor,
  type CborItem,
} from '../../src/attestation/cbor.js';
import { CborRaw, CborTag, encodeCbor } from '../../src/attestation/cbor-encode.js';
import { isAttestationError } from '../../src/attestation/errors.js';
import { fromHex, toHex } from '../../src/util/hex.js';

/** A plain JavaScript view of a decoded item, for comparisons. */
function plain(i: CborItem): unknown {
  switch (i.kind) {
    case 'uint':
    case 'nint':
    case 'text':
    case 'bool':
    case 'float':
      return i.value;
    case 'bytes':
      return `h'${toHex(i.value)}'`;
    case 'array':
      return i.items.map(plain);
    case 'map':
      return i.entries.map(([k, v]) => [plain(k), plain(v)]);
    case 'tag':
      return { tag: i.tag, value: plain(i.item) };
    case 'null':
      return null;
    case 'undefined':
      return undefined;
    case 'simple':
      return `simple(${i.value})`;
  }
}

const decode = (hex: string): unknown => plain(decodeCbor(fromHex(hex), 'test'));

describe('decodeCbor: RFC 8949 Appendix A examples', () => {
  it.each([
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1903e8', 1000],
    ['1a000f4240', 1000000],
    ['1b000000e8d4a51000', 1000000000000],
    ['1b001fffffffffffff', 9007199254740991],
    ['1bffffffffffffffff', 18446744073709551615n],
    ['20', -1],
    ['3863', -100],
    ['3bffffffffffffffff', -18446744073709551616n],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['f0', 'simple(16)'],
    ['f8ff', 'simple(255)'],
    ['f93c00', 1],
    ['f97bff', 65504],
    ['fa47c35000', 100000],
    ['fb3ff199999999999a', 1.1],
    ['f90001', 5.960464477539063e-8],
    ['40', "h''"],
    ['4401020304', "h'01020304'"],
    ['60', ''],
    ['6449455446', 'IETF'],
    ['62c3bc', 'ü'],
    ['80', []],
    ['83010203', [1, 2, 3]],
    ['8301820203820405', [1, [2, 3], [4, 5]]],
    ['a0', []],
    [
      'a201020304',
      [
        [1, 2],
        [3, 4],
      ],
    ],
    [
      'a26161016162820203',
      [
        ['a', 1],
        ['b', [2, 3]],
      ],
    ],
    ['c074323031332d30332d32315432303a30343a30305a', { tag: 0, value: '2013-03-21T20:04:00Z' }],
    ['5f42010243030405ff', "h'0102030405'"],
    ['7f657374726561646d696e67ff', 'streaming'],
    ['9fff', []],
    ['9f018202039f0405ffff', [1, [2, 3], [4, 5]]],
    [
      'bf61610161629f0203ffff',
      [
        ['a', 1],
        ['b', [2, 3]],
      ],
    ],
  ])('when decoding %s, it yields the value of the RFC', (hex, want) => {
    expect(decode(hex)).toEqual(want);
  });

  it('when decoding undefined (f7), it yields undefined', () => {
    expect(decodeCbor(fromHex('f7'), 'x').kind).toBe('undefined');
  });

  it('when a head is not in preferred form (0x1801), it is still well-formed and decodes', () => {
    expect(decode('1801')).toBe(1);
  });

  it('when decoding an item, it records the byte span of every item', () => {
    const i = decodeCbor(fromHex('820118ff'), 'x');
    expect([i.start, i.end]).toEqual([0, 4]);
    if (i.kind !== 'array') throw new Error('not an array');
    expect(i.items.map((x) => [x.start, x.end])).toEqual([
      [1, 2],
      [2, 4],
    ]);
  });
});

describe('decodeCbor: refusals (RFC 8949 §3, Appendix F)', () => {
  it.each([
    ['18', 'truncated argument'],
    ['1c', 'reserved additional information 28'],
    ['5d', 'reserved additional information 29 on a byte string'],
    ['ff', 'break outside an indefinite item'],
    ['1f', 'indefinite-length integer'],
    ['df00', 'indefinite-length tag'],
    ['5f00ff', 'integer chunk inside an indefinite byte string'],
    ['5f5fffff', 'nested indefinite chunk'],
    ['7f4100ff', 'byte chunk inside an indefinite text string'],
    ['f818', 'two-byte simple value below 32'],
    ['81', 'array missing its item'],
    ['9f01', 'unclosed indefinite array'],
    ['a101', 'map missing a value'],
    ['62c328', 'invalid UTF-8'],
    ['4201', 'byte string shorter than declared'],
    ['5bffffffffffffffff00', 'a length of 2^64-1 (no allocation happens)'],
    ['a1810000', 'an array as map key'],
  ])('when decoding %s (%s), it refuses with CBOR_MALFORMED', (hex) => {
    expect(() => decodeCbor(fromHex(hex), 'payload')).toThrowWithCode('CBOR_MALFORMED');
  });

  it('when a byte follows the item, it refuses with CBOR_TRAILING_BYTES', () => {
    expect(() => decodeCbor(fromHex('0000'), 'x')).toThrowWithCode('CBOR_TRAILING_BYTES');
  });

  it.each([
    ['a2010101 02', 'repeated integer key'],
    ['a2616101616102', 'repeated text key'],
    ['a201011801 02', 'same key in another encoding (01 and 1801)'],
    ['bf61610161610 2ff', 'repeated key in an indefinite map'],
  ])('when decoding %s (%s), it refuses with CBOR_DUPLICATE_KEY', (hex) => {
    expect(() => decodeCbor(fromHex(hex.replace(/ /g, '')), 'x')).toThrowWithCode(
      'CBOR_DUPLICATE_KEY',
    );
  });

  it('when keys differ only in sign (1 and -2), they are distinct', () => {
    expect(decode('a201002100')).toEqual([
      [1, 0],
      [-2, 0],
    ]);
  });

  it(`when arrays nest deeper than ${MAX_CBOR_DEPTH}, it refuses with CBOR_LIMIT_EXCEEDED`, () => {
    const deep = '81'.repeat(MAX_CBOR_DEPTH + 1) + '00';
    expect(() => decodeCbor(fromHex(deep), 'x')).toThrowWithCode('CBOR_LIMIT_EXCEEDED');
    expect(() => decodeCbor(fromHex('81'.repeat(MAX_CBOR_DEPTH) + '00'), 'x')).not.toThrow();
  });

  it(`when an array has more than ${MAX_CBOR_CONTAINER_ITEMS} items, it refuses with CBOR_LIMIT_EXCEEDED`, () => {
    const n = MAX_CBOR_CONTAINER_ITEMS + 1;
    const definite = encodeCbor(new Array<number>(n).fill(0));
    expect(() => decodeCbor(definite, 'x')).toThrowWithCode('CBOR_LIMIT_EXCEEDED');
    const indefinite = fromHex('9f' + '00'.repeat(n) + 'ff');
    expect(() => decodeCbor(indefinite, 'x')).toThrowWithCode('CBOR_LIMIT_EXCEEDED');
  });

  it('when a refusal happens, the error carries the caller path and the byte offset', () => {
    try {
      decodeCbor(fromHex('8301021c'), 'payload');
      throw new Error('no error');
    } catch (e) {
      expect(isAttestationError(e)).toBe(true);
      expect((e as { path: string }).path).toBe('payload');
      expect((e as Error).message).toMatch(/at byte 3/);
    }
  });

  it('when given 20,000 random inputs, every failure is our typed error (never a RangeError or TypeError)', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let n = 0; n < 20_000; n++) {
      const b = new Uint8Array(1 + (rand() % 24)).map(() => rand() & 0xff);
      try {
        decodeCbor(b, 'x');
      } catch (e) {
        if (!isAttestationError(e))
          throw new Error(`raw ${String(e)} on ${toHex(b)} (seed 12345, case ${n})`);
      }
    }
  });
});

describe('encodeCbor', () => {
  it.each([
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [255, '18ff'],
    [256, '190100'],
    [65535, '19ffff'],
    [65536, '1a00010000'],
    [4294967296, '1b0000000100000000'],
    [-1, '20'],
    [-25, '3818'],
    [18446744073709551615n, '1bffffffffffffffff'],
  ])('when encoding %p, it uses the preferred head %s (RFC 8949 §4.1)', (v, hex) => {
    expect(toHex(encodeCbor(v))).toBe(hex);
  });

  it('when encoding a map, it keeps insertion order and text keys', () => {
    expect(toHex(encodeCbor({ b: 1, a: [h('01'), null, true] }))).toBe(
      'a261620161618341 01f6f5'.replace(/ /g, ''),
    );
  });

  it('when encoding raw bytes and tags, they are inserted verbatim', () => {
    expect(toHex(encodeCbor(new CborTag(18, [new CborRaw(fromHex('a0'))])))).toBe('d281a0');
  });

  it('when given a number that is not a safe integer, it throws a TypeError', () => {
    expect(() => encodeCbor(1.5)).toThrow(TypeError);
  });

  it('when encoding and decoding a nested value, it round-trips', () => {
    const v = new Map<number | string, never>();
    const bytes = encodeCbor([1, -2, 'x', h('ff'), { k: new Map([[3, h('00')]]) }, v]);
    expect(toHex(encodeCbor(new CborRaw(bytes)))).toBe(toHex(bytes));
    expect(decode(toHex(bytes))).toEqual([1, -2, 'x', "h'ff'", [['k', [[3, "h'00'"]]]], []]);
  });
});

function h(hex: string): Uint8Array {
  return fromHex(hex);
}
