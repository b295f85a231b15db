import { describe, expect, it } from '@jest/globals';
import { decodeAttestation } from '../../src/attestation/index.js';
import { CborRaw, CborTag, encodeCbor } from '../../src/cbor/index.js';
import { MAX_PAYLOAD_BYTES, decodeCoseSign1 } from '../../src/attestation/cose.js';
import { encodeCoseSign1 } from '../../src/attestation/document-encode.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import {
  documentEntries,
  genuine,
  readFixture,
  unsignedDocument,
  withEntry,
} from '../support/attestation/attestation-fixtures.js';
import { rawPayload } from '../support/attestation/pki-forge.js';

const base = decodeAttestation(readFixture('doc-cape-2.cbor'));
const entries = documentEntries(base);

function decodeWith(key: string, value: Uint8Array | undefined): unknown {
  return decodeAttestation(unsignedDocument(rawPayload(withEntry(entries, key, value))));
}

describe('decodeAttestation on genuine documents', () => {
  it('when the payload map has indefinite length (doc-base-nitro-validator-1), it decodes', () => {
    const { facts, bytes } = genuine('doc-base-nitro-validator-1.cbor');
    expect(facts.payload_map_header).toMatch(/^bf/);
    const d = decodeAttestation(bytes);
    expect(d.moduleId).toBe(facts.module_id);
    expect(d.userData?.length).toBe(20);
  });

  it('when a document has 17 PCRs (doc-marlin-4), all 17 are kept', () => {
    expect(decodeAttestation(readFixture('doc-marlin-4.cbor')).pcrs.size).toBe(17);
  });

  it('when optional fields are 1024 bytes each (doc-blocky-nitrite-1), they are accepted', () => {
    const d = decodeAttestation(readFixture('doc-blocky-nitrite-1.cbor'));
    expect([d.publicKey?.length, d.userData?.length, d.nonce?.length]).toEqual([1024, 1024, 1024]);
  });

  it('when the caller later changes the input bytes, the decoded document does not change', () => {
    const b = readFixture('doc-anjuna-2.cbor');
    const d = decodeAttestation(b);
    const before = toHex(d.publicKey!);
    b.fill(0);
    expect(toHex(d.publicKey!)).toBe(before);
  });

  it('when re-encoded from its fields, the payload is byte-identical for every definite-length genuine document', () => {
    const cose = decodeCoseSign1(readFixture('doc-cape-2.cbor'));
    expect(toHex(rawPayload(entries))).toBe(toHex(cose.payload));
  });
});

describe('decodeAttestation: the COSE_Sign1 envelope (RFC 9052 §4.2)', () => {
  const payload = rawPayload(entries);
  const sig = new Uint8Array(96);

  it('when tagged 18, it decodes and records the tag', () => {
    const b = encodeCoseSign1({ payload, signature: sig, tag: true });
    expect(toHex(b.subarray(0, 2))).toBe('d284');
    expect(decodeCoseSign1(b).tagged).toBe(true);
  });

  it.each([17, 96, 98, 55799])('when tagged %i, it refuses with COSE_BAD_TAG', (tag) => {
    expect(() =>
      decodeAttestation(encodeCoseSign1({ payload, signature: sig, tag })),
    ).toThrowWithCode('COSE_BAD_TAG');
  });

  it('when tag 18 wraps another tag 18, it refuses with COSE_BAD_TAG', () => {
    const inner = encodeCoseSign1({ payload, signature: sig, tag: true });
    expect(() =>
      decodeAttestation(encodeCbor(new CborTag(18, new CborRaw(inner)))),
    ).toThrowWithCode('COSE_BAD_TAG');
  });

  it.each([
    ['a map', encodeCbor({ a: 1 })],
    ['an array of 3', encodeCbor([fromHex('a1013822'), new Map(), payload])],
    ['an array of 5', encodeCbor([fromHex('a1013822'), new Map(), payload, sig, null])],
  ])('when the top-level item is %s, it refuses with COSE_MALFORMED', (_what, b) => {
    expect(() => decodeAttestation(b)).toThrowWithCode('COSE_MALFORMED');
  });

  it.each([
    ['a text string', encodeCbor('a1013822'), 'COSE_MALFORMED'],
    ['empty', new Uint8Array(0), 'COSE_MALFORMED'],
    ['{1: -7} (ES256)', fromHex('a10126'), 'COSE_UNSUPPORTED_ALG'],
    ['{1: -36} (ES512)', fromHex('a1013823'), 'COSE_UNSUPPORTED_ALG'],
    ['{1: "ES384"}', encodeCbor(new Map([[1, 'ES384']])), 'COSE_UNSUPPORTED_ALG'],
    ["{4: h'01'} (no alg)", fromHex('a1044101'), 'COSE_MALFORMED'],
    [
      "{1: -35, 4: h'01'} (extra parameter)",
      fromHex('a20138220441 01'.replace(/ /g, '')),
      'COSE_MALFORMED',
    ],
    ['{1: -35, 1: -35}', fromHex('a2013822013822'), 'CBOR_DUPLICATE_KEY'],
    ['{1: -35} plus a trailing byte', fromHex('a101382200'), 'CBOR_TRAILING_BYTES'],
  ])('when the protected header is %s, it refuses with %s', (_what, prot, code) => {
    const b = encodeCoseSign1({ payload, signature: sig, protectedBytes: prot });
    expect(() => decodeAttestation(b)).toThrowWithCode(code);
  });

  it.each([
    ['null', fromHex('f6')],
    ["{4: h'01'}", fromHex('a1044101')],
    ['{1: -35}', fromHex('a1013822')],
  ])(
    'when the unprotected header is %s, it refuses with COSE_MALFORMED (only {} is accepted)',
    (_w, unprotected) => {
      expect(() =>
        decodeAttestation(encodeCoseSign1({ payload, signature: sig, unprotected })),
      ).toThrowWithCode('COSE_MALFORMED');
    },
  );

  it('when the unprotected header is an empty indefinite-length map, it is accepted', () => {
    expect(() =>
      decodeAttestation(encodeCoseSign1({ payload, signature: sig, unprotected: fromHex('bfff') })),
    ).not.toThrow();
  });

  it('when the payload is nil (detached), it refuses with COSE_MALFORMED', () => {
    const b = encodeCbor([fromHex('a1013822'), new Map(), null, sig]);
    expect(() => decodeAttestation(b)).toThrowWithCode('COSE_MALFORMED');
  });

  it(`when the payload exceeds ${MAX_PAYLOAD_BYTES} bytes, it refuses with CBOR_LIMIT_EXCEEDED`, () => {
    const big = rawPayload(
      withEntry(entries, 'user_data', encodeCbor(new Uint8Array(MAX_PAYLOAD_BYTES))),
    );
    expect(() => decodeAttestation(unsignedDocument(big))).toThrowWithCode('CBOR_LIMIT_EXCEEDED');
  });

  it.each([0, 64, 95, 97, 104])(
    'when the signature is %i bytes, it refuses with COSE_MALFORMED at signature',
    (n) => {
      const b = encodeCoseSign1({ payload, signature: new Uint8Array(n) });
      expect(() => decodeAttestation(b)).toThrowWithCode('COSE_MALFORMED');
    },
  );

  it('when the payload carries a trailing byte, it refuses with CBOR_TRAILING_BYTES at payload', () => {
    const p = new Uint8Array(payload.length + 1);
    p.set(payload);
    try {
      decodeAttestation(unsignedDocument(p));
      throw new Error('accepted');
    } catch (e) {
      expect(e).toHaveCode('CBOR_TRAILING_BYTES');
      expect((e as { path?: string }).path).toBe('payload');
    }
  });
});

describe('decodeAttestation: the payload (NSM API docs/attestation_process.md §3.2.2)', () => {
  it.each([
    ['module_id', undefined, 'DOC_FIELD_MISSING'],
    ['digest', undefined, 'DOC_FIELD_MISSING'],
    ['timestamp', undefined, 'DOC_FIELD_MISSING'],
    ['pcrs', undefined, 'DOC_FIELD_MISSING'],
    ['certificate', undefined, 'DOC_FIELD_MISSING'],
    ['cabundle', undefined, 'DOC_FIELD_MISSING'],
    ['module_id', encodeCbor(fromHex('00')), 'DOC_FIELD_TYPE'],
    ['module_id', encodeCbor(''), 'DOC_FIELD_SIZE'],
    ['module_id', encodeCbor('x'.repeat(257)), 'DOC_FIELD_SIZE'],
    ['module_id', encodeCbor(null), 'DOC_FIELD_TYPE'],
    ['digest', encodeCbor('SHA256'), 'DOC_FIELD_VALUE'],
    ['digest', encodeCbor('sha384'), 'DOC_FIELD_VALUE'],
    ['digest', encodeCbor(384), 'DOC_FIELD_TYPE'],
    ['timestamp', encodeCbor(0), 'DOC_FIELD_VALUE'],
    ['timestamp', encodeCbor(-1), 'DOC_FIELD_TYPE'],
    ['timestamp', fromHex('fb4276b7bc64cae000'), 'DOC_FIELD_TYPE'],
    ['timestamp', encodeCbor('1663263808000'), 'DOC_FIELD_TYPE'],
    ['timestamp', encodeCbor(18446744073709551615n), 'DOC_FIELD_VALUE'],
    ['timestamp', encodeCbor(8.64e15 + 1), 'DOC_FIELD_VALUE'],
    ['pcrs', encodeCbor([]), 'DOC_FIELD_TYPE'],
    ['pcrs', encodeCbor(new Map()), 'DOC_FIELD_SIZE'],
    ['pcrs', encodeCbor(new Map([[32, new Uint8Array(48)]])), 'DOC_FIELD_VALUE'],
    ['pcrs', encodeCbor(new Map([[-1, new Uint8Array(48)]])), 'DOC_FIELD_TYPE'],
    ['pcrs', encodeCbor(new Map([['0', new Uint8Array(48)]])), 'DOC_FIELD_TYPE'],
    ['pcrs', encodeCbor(new Map([[3, new Uint8Array(47)]])), 'DOC_FIELD_SIZE'],
    ['pcrs', encodeCbor(new Map([[3, new Uint8Array(32)]])), 'DOC_FIELD_SIZE'],
    ['pcrs', encodeCbor(new Map([[3, 'x'.repeat(48)]])), 'DOC_FIELD_TYPE'],
    ['certificate', encodeCbor(new Uint8Array(0)), 'DOC_FIELD_SIZE'],
    ['certificate', encodeCbor(new Uint8Array(1025)), 'DOC_FIELD_SIZE'],
    ['certificate', encodeCbor([new Uint8Array(10)]), 'DOC_FIELD_TYPE'],
    ['cabundle', encodeCbor([]), 'DOC_FIELD_SIZE'],
    ['cabundle', encodeCbor(null), 'DOC_FIELD_TYPE'],
    ['cabundle', encodeCbor(new Array<Uint8Array>(9).fill(new Uint8Array(10))), 'DOC_FIELD_SIZE'],
    ['cabundle', encodeCbor([new Uint8Array(10), 'pem', new Uint8Array(10)]), 'DOC_FIELD_TYPE'],
    [
      'cabundle',
      encodeCbor([new Uint8Array(10), new Uint8Array(10), new Uint8Array(1025)]),
      'DOC_FIELD_SIZE',
    ],
    ['public_key', encodeCbor(new Uint8Array(1025)), 'DOC_FIELD_SIZE'],
    ['public_key', encodeCbor('key'), 'DOC_FIELD_TYPE'],
    ['user_data', encodeCbor(new Uint8Array(1025)), 'DOC_FIELD_SIZE'],
    ['user_data', encodeCbor(false), 'DOC_FIELD_TYPE'],
    ['nonce', encodeCbor(new Uint8Array(1025)), 'DOC_FIELD_SIZE'],
    ['nonce', fromHex('f7'), 'DOC_FIELD_TYPE'],
  ])('when %s is replaced (%#), it refuses with %s', (key, value, code) => {
    expect(() => decodeWith(key, value)).toThrowWithCode(code);
  });

  it.each([
    ['payload.pcrs.3', 'pcrs', encodeCbor(new Map([[3, new Uint8Array(47)]]))],
    ['payload.pcrs.32', 'pcrs', encodeCbor(new Map([[32, new Uint8Array(48)]]))],
    [
      'payload.cabundle.2',
      'cabundle',
      encodeCbor([new Uint8Array(1), new Uint8Array(1), new Uint8Array(1025)]),
    ],
    ['payload.cabundle.1', 'cabundle', encodeCbor([new Uint8Array(1), 'x'])],
    ['payload.user_data', 'user_data', encodeCbor(new Uint8Array(1025))],
    ['payload.cabundle', 'cabundle', undefined],
  ])('when the refusal concerns %s, the error path names it', (path, key, value) => {
    try {
      decodeWith(key, value);
      throw new Error('accepted');
    } catch (e) {
      expect((e as { path?: string }).path).toBe(path);
    }
  });

  it('when the payload has an unknown field, it refuses with DOC_FIELD_VALUE naming it', () => {
    const p = rawPayload([...entries, ['extra', encodeCbor(1)]]);
    try {
      decodeAttestation(unsignedDocument(p));
      throw new Error('accepted');
    } catch (e) {
      expect(e).toHaveCode('DOC_FIELD_VALUE');
      expect((e as { path?: string }).path).toBe('payload.extra');
    }
  });

  it('when the payload has an integer key, it refuses with DOC_FIELD_VALUE', () => {
    const p = encodeCbor(new CborRaw(rawPayload(entries)));
    const withIntKey = new Uint8Array(p.length + 2);
    withIntKey.set(p);
    withIntKey[0] = 0xaa; // map of 10: the 9 fields and 1: 1
    withIntKey.set([0x01, 0x01], p.length);
    expect(() => decodeAttestation(unsignedDocument(withIntKey))).toThrowWithCode(
      'DOC_FIELD_VALUE',
    );
  });

  it('when the payload is not a map, it refuses with DOC_FIELD_TYPE', () => {
    expect(() => decodeAttestation(unsignedDocument(encodeCbor([1])))).toThrowWithCode(
      'DOC_FIELD_TYPE',
    );
  });

  it('when a field repeats, it refuses with CBOR_DUPLICATE_KEY', () => {
    const p = rawPayload([...entries, ['nonce', encodeCbor(null)]]);
    expect(() => decodeAttestation(unsignedDocument(p))).toThrowWithCode('CBOR_DUPLICATE_KEY');
  });

  it('when optional fields are absent, they decode as null', () => {
    const p = rawPayload(
      entries.filter(([k]) => !['public_key', 'user_data', 'nonce'].includes(k)),
    );
    const d = decodeAttestation(unsignedDocument(p));
    expect([d.publicKey, d.userData, d.nonce]).toEqual([null, null, null]);
  });

  it('when optional fields are present and empty, they decode as empty (public_key included)', () => {
    const empty = encodeCbor(new Uint8Array(0));
    let e = withEntry(entries, 'public_key', empty);
    e = withEntry(e, 'user_data', empty);
    e = withEntry(e, 'nonce', empty);
    const d = decodeAttestation(unsignedDocument(rawPayload(e)));
    expect([d.publicKey?.length, d.userData?.length, d.nonce?.length]).toEqual([0, 0, 0]);
  });

  it('when fields come in another order or with indefinite-length strings, they decode the same', () => {
    const reversed = [...entries].reverse();
    const chunked = fromHex('5f' + '4101'.repeat(3) + 'ff'); // h'010101' in three chunks
    const d = decodeAttestation(
      unsignedDocument(rawPayload(withEntry(reversed, 'nonce', chunked))),
    );
    expect(d.moduleId).toBe(base.moduleId);
    expect(toHex(d.nonce!)).toBe('010101');
  });
});
