import { describe, expect, it } from '@jest/globals';
import {
  AWS_NITRO_ROOT_G1,
  SIMULATION_ROOT,
  createChainCache,
  decodeAttestation,
  verifyAttestation,
} from '../../src/attestation/index.js';
import { encodePayload } from '../../src/attestation/document-encode.js';
import { decodeCoseSign1 } from '../../src/attestation/cose.js';
import { encodeCoseSign1 } from '../../src/attestation/document-encode.js';
import { nodeCryptoVerifier } from '../../src/attestation/node-crypto.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import {
  FACTS,
  GENUINE,
  genuine,
  isDebugFact,
  leafNotAfterMs,
  leafNotBeforeMs,
  readFixture,
} from '../support/attestation/attestation-fixtures.js';

describe('verifyAttestation on genuine AWS documents', () => {
  it('when given the fixture set, it has the 19 genuine documents of SOURCES.md', () => {
    expect(GENUINE).toHaveLength(19);
  });

  describe.each(GENUINE.map((f) => [f.file, f] as const))('%s', (_file, facts) => {
    const bytes = readFixture(facts.file);

    it('when checked at its own timestamp, it is accepted with the facts of facts.json', async () => {
      const r = await verifyAttestation(bytes, { allowDebug: true });
      if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
      expect(r.trustAnchor).toBe(AWS_NITRO_ROOT_G1);
      expect(r.debug).toBe(isDebugFact(facts));
      const d = r.document;
      expect(d.moduleId).toBe(facts.module_id);
      expect(d.digest).toBe('SHA384');
      expect(d.timestamp).toBe(facts.timestamp);
      expect([...d.pcrs.keys()].sort((a, b) => a - b)).toEqual(facts.pcr_indices);
      for (const [i, v] of d.pcrs) {
        const want = facts.pcrs_nonzero_hex[String(i)];
        expect(toHex(v)).toBe(want ?? '00'.repeat(48));
      }
      expect(d.cabundle).toHaveLength(facts.cabundle_len);
      expect(toHex(d.cabundle[0]!)).toBe(toHex(AWS_NITRO_ROOT_G1.der));
      for (const [name, got] of [
        ['public_key', d.publicKey],
        ['user_data', d.userData],
        ['nonce', d.nonce],
      ] as const) {
        const f = facts[name];
        if (f.state === 'null') expect(got).toBeNull();
        else {
          expect(got).not.toBeNull();
          expect(got!.length).toBe(Number(f.len));
          const hex = f.hex ?? '';
          if (hex.endsWith('...')) expect(toHex(got!).startsWith(hex.slice(0, -3))).toBe(true);
          else expect(toHex(got!).startsWith(hex)).toBe(true);
        }
      }
    });

    it('when checked with the node:crypto verifier, it is accepted too', async () => {
      const r = await verifyAttestation(bytes, { allowDebug: true, verifier: nodeCryptoVerifier });
      expect(r.ok).toBe(true);
    });

    it('when checked one minute after its leaf expired, it is refused with CERT_EXPIRED', async () => {
      const r = await verifyAttestation(bytes, {
        allowDebug: true,
        at: leafNotAfterMs(facts) + 60_000,
      });
      expect(r).toBeRefusedWith('CERT_EXPIRED');
      expect(r.ok || r.path).toBe('payload.certificate');
    });

    if (isDebugFact(facts)) {
      it('when debug documents are not allowed, it is refused with DEBUG_MODE', async () => {
        expect(await verifyAttestation(bytes)).toBeRefusedWith('DEBUG_MODE');
      });
    } else {
      it('when debug documents are not allowed, it is still accepted (production mode)', async () => {
        expect((await verifyAttestation(bytes)).ok).toBe(true);
      });
    }

    it('when only the simulation root is trusted, it is refused with CHAIN_UNTRUSTED_ROOT', async () => {
      const r = await verifyAttestation(bytes, {
        allowDebug: true,
        trustAnchors: [SIMULATION_ROOT],
      });
      expect(r).toBeRefusedWith('CHAIN_UNTRUSTED_ROOT');
    });
  });
});

describe('verifyAttestation on negative and mock documents', () => {
  const expected: Record<string, string> = {
    'neg-eternis-invalid-1.cbor': 'SIGNATURE_INVALID',
    'neg-base-nitro-validator-1-as-committed.cbor': 'CBOR_MALFORMED',
    'mock-marlin-custom-1.cbor': 'CHAIN_UNTRUSTED_ROOT',
    'mock-marlin-custom-2.cbor': 'CHAIN_UNTRUSTED_ROOT',
    'mock-blocky-nitrite-selfsigned-1.cbor': 'COSE_MALFORMED',
  };

  it('when listing the non-genuine fixtures, each has an expected code here', () => {
    expect(
      FACTS.filter((f) => f.category !== 'genuine')
        .map((f) => f.file)
        .sort(),
    ).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('when given %s, it is refused with %s', async (file, code) => {
    const r = await verifyAttestation(readFixture(file), { allowDebug: true });
    expect(r).toBeRefusedWith(code);
  });

  it('when the self-signed mock has its unprotected header fixed, it is still refused (no cabundle)', async () => {
    // mock-blocky has an unprotected header of null and no cabundle; repair the first to reach the second.
    const raw = readFixture('mock-blocky-nitrite-selfsigned-1.cbor');
    const fixed = raw.slice();
    const at = toHex(raw).indexOf('44a1013822f6') / 2;
    expect(at).toBeGreaterThanOrEqual(0);
    fixed[at + 5] = 0xa0;
    expect(await verifyAttestation(fixed, { allowDebug: true })).toBeRefusedWith('DOC_FIELD_TYPE');
  });
});

describe('verifyAttestation time handling', () => {
  const { facts, bytes } = genuine('doc-anjuna-1.cbor');

  it('when the document is 0.685 s after its leaf notBefore, it is accepted (notBefore is inclusive)', async () => {
    expect(facts.timestamp - leafNotBeforeMs(facts)).toBe(685);
    expect((await verifyAttestation(bytes)).ok).toBe(true);
  });

  it('when checked exactly at the leaf notBefore, it is accepted', async () => {
    expect((await verifyAttestation(bytes, { at: leafNotBeforeMs(facts) })).ok).toBe(true);
  });

  it('when checked 1 ms before the leaf notBefore, it is refused with CERT_NOT_YET_VALID', async () => {
    const r = await verifyAttestation(bytes, { at: leafNotBeforeMs(facts) - 1 });
    expect(r).toBeRefusedWith('CERT_NOT_YET_VALID');
    expect(r.ok || r.path).toBe('payload.certificate');
  });

  it('when checked exactly at the leaf notAfter, it is accepted (notAfter is inclusive)', async () => {
    expect((await verifyAttestation(bytes, { at: leafNotAfterMs(facts) })).ok).toBe(true);
  });

  it('when checked 1 ms after the leaf notAfter, it is refused with CERT_EXPIRED', async () => {
    expect(await verifyAttestation(bytes, { at: leafNotAfterMs(facts) + 1 })).toBeRefusedWith(
      'CERT_EXPIRED',
    );
  });

  it('when the verifier clock is before the document, it is refused with DOCUMENT_FROM_FUTURE', async () => {
    const r = await verifyAttestation(bytes, { now: facts.timestamp - 1 });
    expect(r).toBeRefusedWith('DOCUMENT_FROM_FUTURE');
  });

  it('when the clock tolerance covers the skew, it is accepted', async () => {
    const r = await verifyAttestation(bytes, {
      now: facts.timestamp - 500,
      clockToleranceMs: 1000,
    });
    expect(r.ok).toBe(true);
  });

  it('when the document is older than maxAgeSeconds, it is refused with DOCUMENT_TOO_OLD', async () => {
    const r = await verifyAttestation(bytes, {
      now: facts.timestamp + 301_000,
      maxAgeSeconds: 300,
    });
    expect(r).toBeRefusedWith('DOCUMENT_TOO_OLD');
    expect(r.ok || r.message).toMatch(/301 s old; at most 300 s/);
  });

  it('when the document is within maxAgeSeconds, it is accepted', async () => {
    const r = await verifyAttestation(bytes, {
      now: facts.timestamp + 299_000,
      maxAgeSeconds: 300,
    });
    expect(r.ok).toBe(true);
  });

  it('when maxAgeSeconds is given without now, it rejects with a TypeError (a caller mistake)', async () => {
    await expect(verifyAttestation(bytes, { maxAgeSeconds: 5 })).rejects.toThrow(TypeError);
  });
});

describe('verifyAttestation expectations', () => {
  const { facts, bytes } = genuine('doc-cape-2.cbor');
  const doc = decodeAttestation(bytes);

  it('when every expectation matches, it is accepted', async () => {
    const r = await verifyAttestation(bytes, {
      expectedPcrs: new Map([
        [0, fromHex(facts.pcrs_nonzero_hex['0']!)],
        [8, fromHex(facts.pcrs_nonzero_hex['8']!)],
      ]),
      expectedNonce: doc.nonce!,
      expectedUserData: doc.userData!,
      expectedPublicKey: doc.publicKey!,
    });
    expect(r.ok).toBe(true);
  });

  it('when an expected PCR differs by one bit, it is refused with PCR_MISMATCH at that PCR', async () => {
    const want = fromHex(facts.pcrs_nonzero_hex['2']!);
    want[47] = want[47]! ^ 1;
    const r = await verifyAttestation(bytes, { expectedPcrs: new Map([[2, want]]) });
    expect(r).toBeRefusedWith('PCR_MISMATCH');
    expect(r.ok || r.path).toBe('payload.pcrs.2');
  });

  it('when an expected PCR is not in the document (index 20), it is refused with PCR_MISMATCH', async () => {
    const r = await verifyAttestation(bytes, { expectedPcrs: new Map([[20, new Uint8Array(48)]]) });
    expect(r).toBeRefusedWith('PCR_MISMATCH');
    expect(r.ok || r.message).toMatch(/PCR20 is not in the document/);
  });

  it('when the nonce differs, it is refused with NONCE_MISMATCH', async () => {
    const r = await verifyAttestation(bytes, { expectedNonce: Uint8Array.of(1, 2, 3) });
    expect(r).toBeRefusedWith('NONCE_MISMATCH');
  });

  it('when a nonce is expected but the document has none, it is refused with NONCE_MISMATCH', async () => {
    const b = readFixture('doc-anjuna-1.cbor');
    expect(await verifyAttestation(b, { expectedNonce: new Uint8Array(0) })).toBeRefusedWith(
      'NONCE_MISMATCH',
    );
  });

  it('when user_data differs, it is refused with USER_DATA_MISMATCH', async () => {
    const want = doc.userData!.slice();
    want[0] = want[0]! ^ 0x80;
    expect(await verifyAttestation(bytes, { expectedUserData: want })).toBeRefusedWith(
      'USER_DATA_MISMATCH',
    );
  });

  it('when public_key differs, it is refused with PUBLIC_KEY_MISMATCH', async () => {
    const want = doc.publicKey!.subarray(1);
    expect(await verifyAttestation(bytes, { expectedPublicKey: want })).toBeRefusedWith(
      'PUBLIC_KEY_MISMATCH',
    );
  });

  it('when an empty user_data is expected and the document carries one (doc-marlin-4), it is accepted', async () => {
    const b = readFixture('doc-marlin-4.cbor');
    expect((await verifyAttestation(b, { expectedUserData: new Uint8Array(0) })).ok).toBe(true);
  });

  it('when PCR16 (unlocked range) is expected on doc-marlin-4, it is matched', async () => {
    const { facts: f, bytes: b } = genuine('doc-marlin-4.cbor');
    const r = await verifyAttestation(b, {
      expectedPcrs: new Map([[16, fromHex(f.pcrs_nonzero_hex['16']!)]]),
    });
    expect(r.ok).toBe(true);
  });
});

describe('verifyAttestation against tampering with genuine documents', () => {
  const { bytes } = genuine('doc-evervault-2.cbor');
  const cose = decodeCoseSign1(bytes);
  const doc = decodeAttestation(bytes);

  function rebuild(edit: (d: typeof doc) => void): Uint8Array {
    const d = { ...doc, pcrs: new Map(doc.pcrs), cabundle: [...doc.cabundle] };
    edit(d);
    return encodeCoseSign1({ payload: encodePayload(d), signature: cose.signature });
  }

  it('when re-encoding the payload unchanged, it still verifies (the encoder matches the NSM byte for byte)', async () => {
    const same = rebuild(() => undefined);
    expect(toHex(same)).toBe(toHex(bytes));
    expect((await verifyAttestation(same)).ok).toBe(true);
  });

  it('when one bit of the signature flips, it is refused with SIGNATURE_INVALID', async () => {
    const b = bytes.slice();
    b[b.length - 10] = b[b.length - 10]! ^ 0x01;
    expect(await verifyAttestation(b)).toBeRefusedWith('SIGNATURE_INVALID');
  });

  it('when one bit of a PCR in the payload flips, it is refused with SIGNATURE_INVALID', async () => {
    const b = rebuild((d) => {
      const p = d.pcrs.get(1)!.slice();
      p[0] = p[0]! ^ 0x40;
      d.pcrs.set(1, p);
    });
    expect(await verifyAttestation(b)).toBeRefusedWith('SIGNATURE_INVALID');
  });

  it('when the nonce in the payload is replaced, it is refused with SIGNATURE_INVALID', async () => {
    const b = rebuild((d) => {
      d.nonce = new Uint8Array(256).fill(7);
    });
    expect(await verifyAttestation(b)).toBeRefusedWith('SIGNATURE_INVALID');
  });

  it('when the leaf is taken from another document, it is refused with CHAIN_BROKEN', async () => {
    const other = decodeAttestation(readFixture('doc-cape-2.cbor'));
    const b = rebuild((d) => {
      d.certificate = other.certificate;
    });
    const r = await verifyAttestation(b);
    expect(r).toBeRefusedWith('CHAIN_BROKEN');
    expect(r.ok || r.path).toBe('payload.certificate');
  });

  it('when leaf and cabundle are taken from another document, it is refused with SIGNATURE_INVALID', async () => {
    const other = decodeAttestation(readFixture('doc-cape-2.cbor'));
    const b = rebuild((d) => {
      d.certificate = other.certificate;
      d.cabundle = other.cabundle;
      d.timestamp = other.timestamp;
    });
    expect(await verifyAttestation(b)).toBeRefusedWith('SIGNATURE_INVALID');
  });

  it('when one bit flips inside the signature of a cabundle certificate, it is refused with CHAIN_SIGNATURE_INVALID', async () => {
    const b = rebuild((d) => {
      const c = d.cabundle[2]!.slice();
      c[c.length - 5] = c[c.length - 5]! ^ 0x01; // inside s of the ECDSA signature
      d.cabundle[2] = c;
    });
    const r = await verifyAttestation(b);
    expect(r).toBeRefusedWith('CHAIN_SIGNATURE_INVALID');
    expect(r.ok || r.path).toBe('payload.cabundle.2');
  });

  it('when cabundle entries 1 and 2 are swapped, it is refused with CHAIN_BROKEN', async () => {
    const b = rebuild((d) => {
      [d.cabundle[1], d.cabundle[2]] = [d.cabundle[2]!, d.cabundle[1]!];
    });
    expect(await verifyAttestation(b)).toBeRefusedWith('CHAIN_BROKEN');
  });

  it('when the root is dropped from the cabundle, the pinned root heads the path and only the signature fails', async () => {
    // cabundle[0] is then the regional CA, which the pinned root issued: the chain itself still
    // verifies, and the payload (changed by the edit) no longer matches its signature.
    const b = rebuild((d) => {
      d.cabundle = d.cabundle.slice(1);
    });
    expect(await verifyAttestation(b)).toBeRefusedWith('SIGNATURE_INVALID');
  });
});

describe('verifyAttestation with a chain cache', () => {
  it('when a cache is shared, results are the same and the intermediates are kept', async () => {
    const cache = createChainCache();
    for (const f of GENUINE) {
      const b = readFixture(f.file);
      const once = await verifyAttestation(b, { allowDebug: true, cache });
      const twice = await verifyAttestation(b, {
        allowDebug: true,
        cache,
        verifier: nodeCryptoVerifier,
      });
      expect(once.ok && twice.ok).toBe(true);
    }
    // 1 anchor + 3 intermediates per document, some shared between documents.
    expect(cache.size).toBeGreaterThan(GENUINE.length);
    expect(cache.size).toBeLessThanOrEqual(1 + 3 * GENUINE.length);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('when a cached intermediate verified once, a tampered copy of the document is still refused', async () => {
    const cache = createChainCache();
    const { bytes } = genuine('doc-anjuna-3.cbor');
    expect((await verifyAttestation(bytes, { cache })).ok).toBe(true);
    const b = bytes.slice();
    b[b.length - 1] = b[b.length - 1]! ^ 0x80;
    expect(await verifyAttestation(b, { cache })).toBeRefusedWith('SIGNATURE_INVALID');
    expect(await verifyAttestation(bytes, { cache, at: Date.UTC(2030, 0, 1) })).toBeRefusedWith(
      'CERT_EXPIRED',
    );
  });

  it('when the cache is not from createChainCache, it rejects with a TypeError', async () => {
    const { bytes } = genuine('doc-anjuna-3.cbor');
    await expect(
      verifyAttestation(bytes, { cache: { size: 0, clear: () => undefined } }),
    ).rejects.toThrow(TypeError);
  });
});

describe('verifyAttestation caller mistakes (TypeErrors, not refusals)', () => {
  const { bytes } = genuine('doc-anjuna-1.cbor');

  it.each([
    [
      'a trust anchor that is not a certificate',
      { trustAnchors: [{ name: 'junk', der: Uint8Array.of(1, 2) }] },
    ],
    ['no trust anchor at all', { trustAnchors: [] }],
    ['a PCR index of 32', { expectedPcrs: new Map([[32, new Uint8Array(48)]]) }],
    ['a time that is not a number', { at: Number.NaN }],
    ['a negative clock tolerance', { now: 0, clockToleranceMs: -1 }],
  ])('when given %s, it rejects with a TypeError', async (_what, opts) => {
    await expect(verifyAttestation(bytes, opts)).rejects.toThrow(TypeError);
  });

  it('when the document is not a Uint8Array, it rejects with a TypeError', async () => {
    await expect(verifyAttestation('doc' as unknown as Uint8Array)).rejects.toThrow(TypeError);
  });
});
