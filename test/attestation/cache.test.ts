import { describe, expect, it } from '@jest/globals';
import {
  createChainCache,
  decodeAttestation,
  verifyAttestation,
} from '../../src/attestation/index.js';
import { MAX_CHAIN_CACHE_ENTRIES, internalCache } from '../../src/attestation/cache.js';
import { decodeCoseSign1 } from '../../src/attestation/cose.js';
import { encodeCoseSign1, encodePayload } from '../../src/attestation/document-encode.js';
import { readFixture } from '../support/attestation/attestation-fixtures.js';

describe('chain cache', () => {
  const bytes = readFixture('doc-evervault-5.cbor');
  const regional = decodeAttestation(bytes).cabundle[1]!;

  it('when the same certificate bytes come twice, the cache returns the same entry', () => {
    const c = internalCache(createChainCache());
    expect(c.certificate(regional, 'a')).toBe(c.certificate(regional.slice(), 'b'));
    expect(c.size).toBe(1);
  });

  it(`when more than ${MAX_CHAIN_CACHE_ENTRIES} certificates pass through it, it stays bounded and keeps working`, async () => {
    const cache = createChainCache();
    const c = internalCache(cache);
    for (let i = 0; i <= MAX_CHAIN_CACHE_ENTRIES + 10; i++) {
      // Distinct bytes that still parse: the last two bytes sit inside the ECDSA signature value.
      const v = regional.slice();
      v[v.length - 1] = i & 0xff;
      v[v.length - 2] = (i >> 8) & 0x7f;
      c.certificate(v, 'x');
      expect(cache.size).toBeLessThanOrEqual(MAX_CHAIN_CACHE_ENTRIES);
    }
    expect((await verifyAttestation(bytes, { cache })).ok).toBe(true);
  });

  it('when a certificate failed its signature check, it is not remembered as verified; a good one is', async () => {
    const cache = createChainCache();
    const c = internalCache(cache);
    const d = decodeAttestation(bytes);
    const bad = d.cabundle[2]!.slice();
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 1;
    const cose = decodeCoseSign1(bytes);
    const forged = encodeCoseSign1({
      payload: encodePayload({
        ...d,
        cabundle: [d.cabundle[0]!, d.cabundle[1]!, bad, d.cabundle[3]!],
      }),
      signature: cose.signature,
    });
    expect(await verifyAttestation(forged, { cache })).toBeRefusedWith('CHAIN_SIGNATURE_INVALID');
    expect(c.certificate(bad, 'x').verifiedBy.size).toBe(0);
    expect(await verifyAttestation(forged, { cache })).toBeRefusedWith('CHAIN_SIGNATURE_INVALID');
    expect((await verifyAttestation(bytes, { cache })).ok).toBe(true);
    expect(c.certificate(d.cabundle[2]!, 'x').verifiedBy.size).toBe(1);
  });
});
