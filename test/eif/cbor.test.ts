import { describe, expect, it } from '@jest/globals';
import { MAX_CBOR_DEPTH, decodeCbor } from '../../src/eif/cbor.js';
import { fromHex } from '../../src/util/hex.js';

const dec = (hex: string) => decodeCbor(fromHex(hex), 'signature');

describe('strict CBOR of the signature section (RFC 8949)', () => {
  it('when decoding well-formed items, it returns their values', () => {
    expect(dec('00')).toBe(0);
    expect(dec('1818')).toBe(24);
    expect(dec('1b001fffffffffffff')).toBe(2 ** 53 - 1);
    expect(dec('1b0020000000000000')).toBe(2n ** 53n);
    expect(dec('1bffffffffffffffff')).toBe(2n ** 64n - 1n);
    expect(dec('20')).toBe(-1);
    expect(dec('6161')).toBe('a');
    expect(dec('420102')).toEqual(new Uint8Array([1, 2]));
    expect(dec('8201820203')).toEqual([1, [2, 3]]);
    expect(dec('a2616101 0102'.replace(' ', ''))).toEqual(
      new Map<string | number, number>([
        ['a', 1],
        [1, 2],
      ]),
    );
    expect(dec('d28100')).toEqual({ tag: 18, value: [0] });
    expect([dec('f4'), dec('f5'), dec('f6')]).toEqual([false, true, null]);
  });

  it('when the input is not strict CBOR, it refuses with BAD_SIGNATURE_SECTION saying why', () => {
    const cases: [string, string][] = [
      ['', 'input ends early'],
      ['81', 'input ends early at byte 1'],
      ['0000', '1 bytes follow the item'],
      ['9f01ff', 'indefinite lengths'],
      ['5f41ff', 'indefinite lengths'],
      ['a2616101616102', 'repeats the key "a"'],
      ['a161', 'runs past the end of the input'],
      ['a18000', 'only integer and text keys are accepted'],
      ['a11b002000000000000000', 'map keys must be text or small integers'],
      ['c100', 'unexpected tag 1'],
      ['f93c00', 'float'],
      ['f7', 'undefined'],
      ['62ff00', 'not valid UTF-8'],
      ['9bffffffffffffffff', 'runs past the end of the input'],
      ['5a7fffffff', 'runs past the end of the input'],
      ['1c', 'reserved additional information 28'],
      ['818181818181818181818100', 'nesting deeper'],
    ];
    for (const [hex, msg] of cases) {
      expect(() => dec(hex)).toThrowWithCode('BAD_SIGNATURE_SECTION');
      expect(() => dec(hex)).toThrow(msg);
    }
  });

  it('when items nest as deep as MAX_CBOR_DEPTH, they decode; one level more is refused', () => {
    expect(dec('81'.repeat(MAX_CBOR_DEPTH) + '00')).toEqual(
      Array.from({ length: MAX_CBOR_DEPTH - 1 }).reduce<unknown>((x) => [x], [0]),
    );
    expect(() => dec('81'.repeat(MAX_CBOR_DEPTH + 1) + '00')).toThrowWithCode(
      'BAD_SIGNATURE_SECTION',
    );
  });

  it('when a byte string is decoded, it is a copy that does not share the input buffer', () => {
    const input = fromHex('420102');
    const out = decodeCbor(input, 'signature') as Uint8Array;
    input[1] = 9;
    expect(out).toEqual(new Uint8Array([1, 2]));
  });

  it('when random bytes are decoded, it only ever throws our error', () => {
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const len = (seed = (seed * 48271) % 0x7fffffff) % 40;
      const b = new Uint8Array(len).map(() => (seed = (seed * 48271) % 0x7fffffff) & 0xff);
      try {
        decodeCbor(b, 'signature');
      } catch (e) {
        expect(e).toHaveCode('BAD_SIGNATURE_SECTION');
      }
    }
  });
});
