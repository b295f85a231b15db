/**
 * CBOR test vectors shared by the tests of the strict decoder (test/cbor/) and of the callers that
 * map its refusals to their own codes (test/attestation/, test/eif/).
 */
import type { CborItem } from '../../../src/cbor/index.js';
import { toHex } from '../../../src/util/hex.js';

/** A plain JavaScript view of a decoded item, for comparisons. */
export function plain(i: CborItem): unknown {
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

/** RFC 8949 Appendix A: encoded item and its value as {@link plain} shows it. */
export const RFC8949_APPENDIX_A: Array<[string, unknown]> = [
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
];

/** Inputs that are not well-formed or not valid (RFC 8949 §3, Appendix F), with why. */
export const MALFORMED: Array<[string, string]> = [
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
];

/** Maps that repeat a key (RFC 8949 §5.6), spaces for reading only. */
export const DUPLICATE_KEYS: Array<[string, string]> = [
  ['a2010101 02', 'repeated integer key'],
  ['a2616101616102', 'repeated text key'],
  ['a201011801 02', 'same key in another encoding (01 and 1801)'],
  ['bf61610161610 2ff', 'repeated key in an indefinite map'],
];

/** A repeatable stream of 16-bit pseudo-random numbers (an LCG), for random-input tests. */
export function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 16;
  };
}
