import { describe, expect, it } from '@jest/globals';
import { CborRaw, CborTag, decodeCbor, encodeCbor, encodeHead } from '../../src/cbor/index.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import { plain } from '../support/attestation/cbor-vectors.js';

const h = fromHex;

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
    expect(plain(decodeCbor(bytes, 'x', { maxDepth: 4 }))).toEqual([
      1,
      -2,
      'x',
      "h'ff'",
      [['k', [[3, "h'00'"]]]],
      [],
    ]);
  });

  it('when encoding, it writes shortest-form definite lengths as serde_cbor does', () => {
    expect(encodeCbor([0, 23, 24, 255, 256, 65536, -1, -25])).toEqual(
      fromHex('88' + '00' + '17' + '1818' + '18ff' + '190100' + '1a00010000' + '20' + '3818'),
    );
    expect(encodeCbor(new Map([[1, -35]]))).toEqual(fromHex('a1013822'));
    expect(encodeCbor(['Signature1', new Uint8Array(0)])).toEqual(
      fromHex('826a5369676e61747572653140'),
    );
  });

  it('when encoding a head alone, it is the preferred head of that major type', () => {
    expect(toHex(encodeHead(2, 96))).toBe('5860');
    expect(toHex(encodeHead(5, 0))).toBe('a0');
    expect(() => encodeHead(0, -1)).toThrow(RangeError);
  });
});
