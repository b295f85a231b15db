import { describe, expect, it } from '@jest/globals';
import {
  MAX_CBOR_CONTAINER_ITEMS,
  MAX_CBOR_DEPTH,
  decodeCbor,
} from '../../src/attestation/cbor.js';
import { isAttestationError } from '../../src/attestation/errors.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import {
  DUPLICATE_KEYS,
  MALFORMED,
  RFC8949_APPENDIX_A,
  lcg,
  plain,
} from '../support/attestation/cbor-vectors.js';

const decode = (hex: string): unknown => plain(decodeCbor(fromHex(hex), 'test'));

describe('the CBOR profile of attestation documents', () => {
  it('when decoding every RFC 8949 Appendix A example (indefinite lengths, tags, floats, simple values), it accepts it', () => {
    for (const [hex, want] of RFC8949_APPENDIX_A) expect(decode(hex)).toEqual(want);
    expect(decodeCbor(fromHex('f7'), 'x').kind).toBe('undefined');
  });

  it.each([...MALFORMED, ['a1810000', 'an array as map key']])(
    'when decoding %s (%s), it refuses with CBOR_MALFORMED',
    (hex) => {
      expect(() => decodeCbor(fromHex(hex), 'payload')).toThrowWithCode('CBOR_MALFORMED');
    },
  );

  it('when a byte follows the item, it refuses with CBOR_TRAILING_BYTES', () => {
    expect(() => decodeCbor(fromHex('0000'), 'x')).toThrowWithCode('CBOR_TRAILING_BYTES');
  });

  it.each(DUPLICATE_KEYS)('when decoding %s (%s), it refuses with CBOR_DUPLICATE_KEY', (hex) => {
    expect(() => decodeCbor(fromHex(hex.replace(/ /g, '')), 'x')).toThrowWithCode(
      'CBOR_DUPLICATE_KEY',
    );
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
    const rand = lcg(12345);
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
