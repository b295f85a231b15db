import { describe, expect, it } from '@jest/globals';
import {
  CBOR_ERROR_CODES,
  CborError,
  decodeCbor,
  encodeCbor,
  isCborError,
  type CborProfile,
} from '../../src/cbor/index.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import {
  DUPLICATE_KEYS,
  MALFORMED,
  RFC8949_APPENDIX_A,
  lcg,
  plain,
} from '../support/attestation/cbor-vectors.js';

/** Everything a profile can allow, with small limits to test them. */
const OPEN: CborProfile = {
  maxDepth: 16,
  maxItems: 256,
  indefiniteLengths: true,
  tags: 'any',
  floats: true,
  simpleValues: true,
};
/** Nothing beyond what every input obeys. */
const STRICT: CborProfile = { maxDepth: 8 };

const decode = (hex: string, profile = OPEN): unknown =>
  plain(decodeCbor(fromHex(hex.replace(/ /g, '')), 'test', profile));

describe('decodeCbor: RFC 8949 Appendix A examples', () => {
  it.each(RFC8949_APPENDIX_A)('when decoding %s, it yields the value of the RFC', (hex, want) => {
    expect(decode(hex)).toEqual(want);
  });

  it('when decoding undefined (f7), it yields undefined', () => {
    expect(decodeCbor(fromHex('f7'), 'x', OPEN).kind).toBe('undefined');
  });

  it('when a head is not in preferred form (0x1801), it is still well-formed and decodes', () => {
    expect(decode('1801')).toBe(1);
    expect(decode('1801', STRICT)).toBe(1);
  });

  it('when decoding an item, it records the byte span of every item', () => {
    const i = decodeCbor(fromHex('820118ff'), 'x', OPEN);
    expect([i.start, i.end]).toEqual([0, 4]);
    if (i.kind !== 'array') throw new Error('not an array');
    expect(i.items.map((x) => [x.start, x.end])).toEqual([
      [1, 2],
      [2, 4],
    ]);
  });

  it('when a text string starts with a byte order mark, the mark is kept (two encodings, two texts)', () => {
    expect(decode('64efbbbf61')).toBe('\ufeffa');
    expect(decode('a2616101 64efbbbf6102')).toEqual([
      ['a', 1],
      ['\ufeffa', 2],
    ]);
  });
});

describe('decodeCbor: refusals (RFC 8949 §3, Appendix F)', () => {
  it.each(MALFORMED)('when decoding %s (%s), it refuses with MALFORMED', (hex) => {
    expect(() => decodeCbor(fromHex(hex), 'payload', OPEN)).toThrowWithCode('MALFORMED');
    // A strict profile may see an indefinite length first, which it refuses as NOT_ALLOWED.
    expect(() => decodeCbor(fromHex(hex), 'payload', STRICT)).toThrow(CborError);
  });

  it('when a byte follows the item, it refuses with TRAILING_BYTES', () => {
    expect(() => decodeCbor(fromHex('0000'), 'x', OPEN)).toThrowWithCode('TRAILING_BYTES');
  });

  it.each(DUPLICATE_KEYS)('when decoding %s (%s), it refuses with DUPLICATE_KEY', (hex) => {
    expect(() => decode(hex)).toThrowWithCode('DUPLICATE_KEY');
  });

  it('when keys differ only in sign (1 and -2) or type (1 and "1"), they are distinct', () => {
    expect(decode('a201002100')).toEqual([
      [1, 0],
      [-2, 0],
    ]);
    expect(decode('a2 0100 613100')).toEqual([
      [1, 0],
      ['1', 0],
    ]);
  });

  it.each([
    ['a1810000', 'an array'],
    ['a1f400', 'a boolean'],
    ['a1c00000', 'a tag'],
  ])('when a map key is %s (%s), it refuses with NOT_ALLOWED in every profile', (hex) => {
    expect(() => decode(hex)).toThrowWithCode('NOT_ALLOWED');
    expect(() => decode(hex, { ...STRICT, tags: 'any' })).toThrowWithCode('NOT_ALLOWED');
  });

  it('when a refusal happens, the error carries the caller path and the byte offset', () => {
    try {
      decodeCbor(fromHex('8301021c'), 'payload', OPEN);
      throw new Error('no error');
    } catch (e) {
      expect(isCborError(e)).toBe(true);
      expect((e as { path: string }).path).toBe('payload');
      expect((e as { offset: number }).offset).toBe(3);
      expect((e as Error).message).toMatch(/at byte 3/);
    }
  });

  it('when the codes are listed, they are the closed list every refusal uses', () => {
    expect(CBOR_ERROR_CODES).toEqual([
      'MALFORMED',
      'TRAILING_BYTES',
      'DUPLICATE_KEY',
      'LIMIT_EXCEEDED',
      'NOT_ALLOWED',
    ]);
  });

  it('when given 20,000 random inputs, every failure is our typed error (never a RangeError or TypeError)', () => {
    for (const profile of [OPEN, STRICT]) {
      const rand = lcg(12345);
      for (let n = 0; n < 20_000; n++) {
        const b = new Uint8Array(1 + (rand() % 24)).map(() => rand() & 0xff);
        try {
          decodeCbor(b, 'x', profile);
        } catch (e) {
          if (!isCborError(e))
            throw new Error(`raw ${String(e)} on ${toHex(b)} (seed 12345, case ${n})`);
        }
      }
    }
  });
});

describe('decodeCbor: limits of the profile', () => {
  it('when arrays nest deeper than maxDepth, it refuses with LIMIT_EXCEEDED', () => {
    const deep = (n: number, inner = '00'): Uint8Array => fromHex('81'.repeat(n) + inner);
    for (const maxDepth of [1, 8, 16]) {
      const p = { ...OPEN, maxDepth };
      expect(() => decodeCbor(deep(maxDepth + 1), 'x', p)).toThrowWithCode('LIMIT_EXCEEDED');
      expect(() => decodeCbor(deep(maxDepth), 'x', p)).not.toThrow();
      // An empty container is a level of nesting too.
      expect(() => decodeCbor(deep(maxDepth, '80'), 'x', p)).toThrowWithCode('LIMIT_EXCEEDED');
    }
  });

  it('when maps and tags nest deeper than maxDepth, they count like arrays', () => {
    const p = { ...OPEN, maxDepth: 2 };
    expect(() => decode('a1 00 a1 00 a1 00 00', p)).toThrowWithCode('LIMIT_EXCEEDED');
    expect(() => decode('c1 c1 c1 00', p)).toThrowWithCode('LIMIT_EXCEEDED');
    expect(decode('c1 81 00', p)).toEqual({ tag: 1, value: [0] });
  });

  it('when an array or map has more than maxItems entries, it refuses with LIMIT_EXCEEDED', () => {
    const n = 257;
    const definite = encodeCbor(new Array<number>(n).fill(0));
    expect(() => decodeCbor(definite, 'x', OPEN)).toThrowWithCode('LIMIT_EXCEEDED');
    const indefinite = fromHex('9f' + '00'.repeat(n) + 'ff');
    expect(() => decodeCbor(indefinite, 'x', OPEN)).toThrowWithCode('LIMIT_EXCEEDED');
    const map = encodeCbor(new Map(Array.from({ length: n }, (_, i) => [i, 0])));
    expect(() => decodeCbor(map, 'x', OPEN)).toThrowWithCode('LIMIT_EXCEEDED');
    expect(() => decodeCbor(definite.subarray(0, -1), 'x', OPEN)).toThrowWithCode('LIMIT_EXCEEDED');
    expect(() => decodeCbor(encodeCbor(new Array<number>(256).fill(0)), 'x', OPEN)).not.toThrow();
  });

  it('when maxItems is not set, only the input length bounds a container', () => {
    const big = encodeCbor(new Array<number>(5000).fill(0));
    expect(plain(decodeCbor(big, 'x', STRICT))).toHaveLength(5000);
  });
});

describe('decodeCbor: what a profile may refuse', () => {
  it.each([
    ['5f41 00ff', 'an indefinite byte string'],
    ['7f6161ff', 'an indefinite text string'],
    ['9f01ff', 'an indefinite array'],
    ['bf0000ff', 'an indefinite map'],
  ])('when indefinite lengths are not allowed, %s (%s) is refused with NOT_ALLOWED', (hex) => {
    expect(() => decode(hex, STRICT)).toThrowWithCode('NOT_ALLOWED');
    expect(() => decode(hex)).not.toThrow();
  });

  it('when only some tags are allowed, any other tag is refused with NOT_ALLOWED', () => {
    const p = { ...STRICT, tags: [18] };
    expect(decode('d28100', p)).toEqual({ tag: 18, value: [0] });
    expect(() => decode('c100', p)).toThrowWithCode('NOT_ALLOWED');
    expect(() => decode('c100', p)).toThrow('unexpected tag 1');
    expect(() => decode('db000000000000001200', p)).not.toThrow();
    expect(() => decode('dbffffffffffffffff00', p)).toThrowWithCode('NOT_ALLOWED');
    expect(() => decode('d28100', STRICT)).toThrowWithCode('NOT_ALLOWED');
  });

  it.each([
    ['f93c00', 'half'],
    ['fa47c35000', 'single'],
    ['fb3ff199999999999a', 'double'],
  ])('when floats are not allowed, %s (%s precision) is refused with NOT_ALLOWED', (hex) => {
    expect(() => decode(hex, STRICT)).toThrowWithCode('NOT_ALLOWED');
    expect(() => decode(hex, STRICT)).toThrow('floating-point number');
  });

  it.each([['f0'], ['f7'], ['f8ff']])(
    'when simple values are not allowed, %s is refused with NOT_ALLOWED',
    (hex) => {
      expect(() => decode(hex, STRICT)).toThrowWithCode('NOT_ALLOWED');
    },
  );

  it('when simple values are not allowed, false, true and null are still accepted', () => {
    expect([decode('f4', STRICT), decode('f5', STRICT), decode('f6', STRICT)]).toEqual([
      false,
      true,
      null,
    ]);
  });

  it('when an item is both malformed and not allowed, it is reported as malformed', () => {
    expect(() => decode('f818', STRICT)).toThrowWithCode('MALFORMED');
    expect(() => decode('f93c', STRICT)).toThrowWithCode('MALFORMED');
    expect(() => decode('1f', STRICT)).toThrowWithCode('MALFORMED');
  });
});
