import { describe, expect, it } from '@jest/globals';
import { decodeCbor, encodeCbor } from '../../src/cbor/index.js';
import {
  COSE_ALGORITHMS,
  derToPem,
  encodeCoseSign1,
  encodeProtectedHeader,
  pemBlocks,
  pemToDer,
  protectedAlg,
  sigStructure,
  splitCoseSign1,
} from '../../src/cose/index.js';

const item = (bytes: Uint8Array) => decodeCbor(bytes, 'test', { maxDepth: 8, tags: [18, 19] });
const enc = (s: string) => new TextEncoder().encode(s);

describe('COSE_Sign1 primitives', () => {
  it('when computing the Sig_structure, it equals the generic CBOR encoding of RFC 9052 §4.4', () => {
    for (const [p, pl] of [
      [encodeProtectedHeader('ES384'), enc('payload')],
      [new Uint8Array(0), new Uint8Array(300)],
      [new Uint8Array(70000), new Uint8Array(24)],
    ] as const)
      expect(sigStructure(p, pl)).toEqual(encodeCbor(['Signature1', p, new Uint8Array(0), pl]));
  });

  it('when an envelope is written and split, the parts come back as written', () => {
    const prot = encodeProtectedHeader('ES256');
    const bytes = encodeCoseSign1(prot, enc('x'), enc('sig'));
    const split = splitCoseSign1(item(bytes));
    expect(split).toMatchObject({ ok: true, parts: { tagged: false, unprotected: [] } });
    if (!split.ok) return;
    expect(split.parts.protectedBytes).toEqual(prot);
    expect(split.parts.payload).toEqual(enc('x'));
    expect(split.parts.signature).toEqual(enc('sig'));
    const alg = protectedAlg(item(prot));
    expect(alg).toMatchObject({ kind: 'nint', value: COSE_ALGORITHMS.ES256 });
    const tagged = splitCoseSign1(item(new Uint8Array([0xd2, ...bytes])));
    expect(tagged).toMatchObject({ ok: true, parts: { tagged: true } });
  });

  it('when the shape is wrong, it names the fault and the part', () => {
    const cases: [Uint8Array, string, string][] = [
      [new Uint8Array([0xd3, ...encodeCbor([1])]), 'bad-tag', 'document'],
      [new Uint8Array([0xd2, 0xd2, ...encodeCbor([1])]), 'bad-tag', 'document'],
      [encodeCbor([1, 2, 3]), 'malformed', 'document'],
      [encodeCbor(new Map()), 'malformed', 'document'],
      [encodeCbor([1, new Map(), enc('p'), enc('s')]), 'malformed', 'protected'],
      [encodeCbor([enc(''), [], enc('p'), enc('s')]), 'malformed', 'unprotected'],
      [encodeCbor([enc(''), new Map(), 'p', enc('s')]), 'malformed', 'payload'],
      [encodeCbor([enc(''), new Map(), enc('p'), 's']), 'malformed', 'signature'],
    ];
    for (const [bytes, fault, path] of cases)
      expect(splitCoseSign1(item(bytes))).toMatchObject({ ok: false, error: { fault, path } });
    const detached = splitCoseSign1(item(encodeCbor([enc(''), new Map(), null, enc('s')])));
    expect(detached).toMatchObject({ ok: true, parts: { payload: null } });
  });
});

describe('PEM', () => {
  it('when DER goes to PEM and back, it is unchanged, and every block is found in order', () => {
    const a = new Uint8Array([1, 2, 3, 4, 5]);
    const b = new Uint8Array(200).fill(7);
    expect(pemToDer(derToPem(a))).toEqual(a);
    expect(pemBlocks(derToPem(a) + derToPem(b))).toEqual([a, b]);
    expect(pemBlocks(enc(derToPem(b, 'PUBLIC KEY')), 'PUBLIC KEY')).toEqual([b]);
  });

  it('when there is not exactly one block, or a body is not base64, it throws TypeError', () => {
    expect(() => pemToDer('nothing')).toThrow(TypeError);
    expect(() => pemToDer(derToPem(new Uint8Array(3)).repeat(2))).toThrow(TypeError);
    expect(() => pemBlocks('-----BEGIN CERTIFICATE-----\nAA*A\n-----END CERTIFICATE-----')).toThrow(
      TypeError,
    );
    expect(() => pemBlocks('-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----')).toThrow(
      TypeError,
    );
  });
});
