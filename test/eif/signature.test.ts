import { beforeAll, describe, expect, it } from '@jest/globals';
import { webcrypto } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import {
  assembleEif,
  bytesSource,
  describeEif,
  describeEifJson,
  measure,
} from '../../src/eif/index.js';
import type { EifInput } from '../../src/eif/index.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { encodeCoseSign1, encodeProtectedHeader, sigStructure } from '../../src/cose/index.js';
import { encodePcrPayload, encodeSignatureSection } from '../../src/eif/signature.js';
import { opensslTime } from '../../src/eif/certificate.js';
import { fromHex } from '../../src/util/hex.js';
import { TEST_METADATA, enc, rawEif, soundSections } from '../support/nitro/eif-build.js';
import type { TestSigningIdentity } from '../support/nitro/eif-signing.js';
import { makeSigningIdentity } from '../support/nitro/eif-signing.js';

const SIGNATURE = 4;
const input = (): EifInput => ({
  kernel: enc('KERNEL'),
  cmdline: 'console=ttyS0',
  metadata: TEST_METADATA,
  ramdisks: [enc('BOOT'), enc('APP')],
});

let es384: TestSigningIdentity;
beforeAll(async () => {
  es384 = await makeSigningIdentity(
    'ES384',
    'CN=EIF signer, OU=First, OU=Second, O=Example Org, C=US',
  );
});

/** A COSE_Sign1 made with `id`'s key over `payload` (nitro-cli's construction). */
async function cose(id: TestSigningIdentity, payload: Uint8Array, alg = id.algorithm) {
  const protectedHeader = encodeProtectedHeader(alg);
  const sig = await id.signer.sign(sigStructure(protectedHeader, payload));
  return encodeCoseSign1(protectedHeader, payload, sig);
}

/** The sound test sections plus a signature section with the given bytes. */
function withSignature(section: Uint8Array) {
  return rawEif([...soundSections(), { type: SIGNATURE, data: section }]);
}

const PCR0 =
  'd2bf28888a2d15f0081faf38072aa6a5566e5c998bcb5d343f5d5221119c107d84b7e4a28cfe3701facc33676682e0e0';

describe('signed EIFs (PCR8, EIF README "EifSectionSignature")', () => {
  it('when an image is signed, PCR8 measures the certificate DER and the signature checks', async () => {
    const signed = await assembleEif({ ...input(), signer: es384.signer });
    const unsigned = await assembleEif(input());
    const d = await describeEif(bytesSource(signed));
    expect(d.measurements.pcr8).toBe(measure(es384.certificateDer));
    expect(d.signature?.check).toBe(true);
    const u = await describeEif(bytesSource(unsigned));
    // The signature section is not measured into PCR0-2.
    expect({ ...d.measurements, pcr8: undefined }).toEqual({ ...u.measurements, pcr8: undefined });
    expect(u.measurements.pcr8).toBeUndefined();
    expect(d.measurements.pcr0).toBe(PCR0);
  });

  it('when P-256 or P-521 keys sign, the signature checks too', async () => {
    for (const alg of ['ES256', 'ES512'] as const) {
      const id = await makeSigningIdentity(alg);
      const d = await describeEif(
        bytesSource(await assembleEif({ ...input(), signer: id.signer })),
      );
      expect(d.signature?.check).toBe(true);
      expect(d.measurements.pcr8).toBe(measure(id.certificateDer));
    }
  });

  it('when describing the certificate, it prints what describe-eif prints', async () => {
    const d = await describeEif(
      bytesSource(await assembleEif({ ...input(), signer: es384.signer })),
    );
    const j = describeEifJson(d);
    expect(Object.keys(j)).toEqual([
      'EifVersion',
      'Measurements',
      'IsSigned',
      'SigningCertificate',
      'CheckCRC',
      'SignatureCheck',
      'ImageName',
      'ImageVersion',
      'Metadata',
    ]);
    const node = new X509Certificate(es384.certificatePem);
    expect(j.SigningCertificate).toEqual({
      // BTreeMap order; the repeated OU keeps its last value, as BTreeMap::insert does.
      IssuerName: {
        commonName: 'EIF signer',
        countryName: 'US',
        organizationName: 'Example Org',
        organizationalUnitName: 'Second',
      },
      Algorithm: 'ecdsa-with-SHA384',
      NotBefore: 'Jan  1 00:00:00 2024 GMT',
      NotAfter: 'Jan  1 00:00:00 2034 GMT',
      Signature: expect.stringMatching(/^([0-9A-F]{2}:)+[0-9A-F]{2}$/) as unknown as string,
    });
    expect(node.validFrom).toBe('Jan  1 00:00:00 2024 GMT');
    expect(j.Measurements.PCR8).toBe(d.measurements.pcr8);
    expect(j.IsSigned).toBe(true);
    expect(j.SignatureCheck).toBe(true);
  });

  it('when formatting times, it matches OpenSSL ASN1_TIME_print', () => {
    expect(opensslTime(new Date('2019-10-28T13:28:05Z'))).toBe('Oct 28 13:28:05 2019 GMT');
    expect(opensslTime(new Date('2049-10-28T14:28:05Z'))).toBe('Oct 28 14:28:05 2049 GMT');
    expect(opensslTime(new Date('2024-02-03T04:05:06Z'))).toBe('Feb  3 04:05:06 2024 GMT');
  });

  it('when writing the section, byte vectors are CBOR arrays of small uints, not byte strings', async () => {
    const signed = await assembleEif({ ...input(), signer: es384.signer });
    const d = await describeEif(bytesSource(signed));
    const sig = d.sections.find((s) => s.type === 'signature')!;
    const data = signed.subarray(sig.offset + 12, sig.offset + 12 + sig.size);
    // [ { "signing_certificate": [ 0x2d ('-') ...
    expect(Array.from(data.subarray(0, 2))).toEqual([0x81, 0xa2]);
    expect(new TextDecoder().decode(data.subarray(3, 22))).toBe('signing_certificate');
    expect(data[22]! >> 5).toBe(4); // major type 4: array
    // The PEM's "-----": each '-' (0x2d) a uint >= 24, written 0x18 0x2d, right after the header.
    const first = 23 + ({ 24: 1, 25: 2, 26: 4 }[data[22]! & 0x1f] ?? 0);
    expect(Array.from(data.subarray(first, first + 10))).toEqual(
      Array.from({ length: 5 }, () => [0x18, 0x2d]).flat(),
    );
    expect(encodePcrPayload(0, new Uint8Array(48)).subarray(0, 18)).toEqual(
      new Uint8Array([0xa2, 0x6e, ...enc('register_index'), 0x00, 0x6e]),
    );
  });

  it('when the signature signs another PCR0, it refuses with SIGNATURE_MISMATCH, or reports check false', async () => {
    const other = encodePcrPayload(0, new Uint8Array(48));
    const section = encodeSignatureSection([
      { signingCertificate: enc(es384.certificatePem), signature: await cose(es384, other) },
    ]);
    const b = withSignature(section);
    await expect(describeEif(bytesSource(b))).rejects.toHaveCode('SIGNATURE_MISMATCH');
    const d = await describeEif(bytesSource(b), { checks: 'report' });
    expect(d.signature).toMatchObject({
      check: false,
      reason: expect.stringContaining('PCR0'),
    });
    expect(d.measurements.pcr8).toBe(measure(es384.certificateDer));
  });

  it('when the COSE signature does not verify, it reports check false', async () => {
    const other = await makeSigningIdentity('ES384');
    const payload = encodePcrPayload(0, fromHex(PCR0));
    const section = encodeSignatureSection([
      { signingCertificate: enc(es384.certificatePem), signature: await cose(other, payload) },
    ]);
    const d = await describeEif(bytesSource(withSignature(section)), { checks: 'report' });
    expect(d.signature?.check).toBe(false);
    expect(d.signature?.reason).toContain('does not verify');
    const good = encodeSignatureSection([
      { signingCertificate: enc(es384.certificatePem), signature: await cose(es384, payload) },
    ]);
    expect((await describeEif(bytesSource(withSignature(good)))).signature?.check).toBe(true);
  });

  it('when the COSE algorithm does not match the certificate key, it reports check false', async () => {
    const payload = encodePcrPayload(0, fromHex(PCR0));
    const section = encodeSignatureSection([
      {
        signingCertificate: enc(es384.certificatePem),
        signature: await cose(es384, payload, 'ES256'),
      },
    ]);
    const d = await describeEif(bytesSource(withSignature(section)), { checks: 'report' });
    expect(d.signature?.reason).toContain('ES384');
  });

  it('when the COSE_Sign1 carries tag 18, it is accepted like the untagged form', async () => {
    const payload = encodePcrPayload(0, fromHex(PCR0));
    const tagged = new Uint8Array([0xd2, ...(await cose(es384, payload))]);
    const section = encodeSignatureSection([
      { signingCertificate: enc(es384.certificatePem), signature: tagged },
    ]);
    expect((await describeEif(bytesSource(withSignature(section)))).signature?.check).toBe(true);
  });

  it('when the signature section is malformed, it refuses with BAD_SIGNATURE_SECTION naming the part', async () => {
    const payload = encodePcrPayload(0, fromHex(PCR0));
    const good = await cose(es384, payload);
    const pem = enc(es384.certificatePem);
    const cases: [Uint8Array, string][] = [
      [enc('not cbor at all'), 'signature'],
      [encodeCbor([]), 'signature'],
      [encodeCbor(new Map([['a', 1]])), 'signature'],
      // serde_bytes-style byte strings instead of arrays of uints
      [
        encodeCbor([
          new Map<string, Uint8Array>([
            ['signing_certificate', pem],
            ['signature', good],
          ]),
        ]),
        'signature.0.signing_certificate',
      ],
      [
        encodeCbor([
          new Map([
            ['signing_certificate', [1, 2, 300]],
            ['signature', Array.from(good)],
          ]),
        ]),
        'signature.0.signing_certificate.2',
      ],
      [
        encodeCbor([
          new Map([
            ['signing_certificate', Array.from(pem)],
            ['sig', Array.from(good)],
          ]),
        ]),
        'signature.0',
      ],
      [
        encodeCbor([
          new Map([
            ['signing_certificate', Array.from(enc('no pem here'))],
            ['signature', Array.from(good)],
          ]),
        ]),
        'signature.0.signing_certificate',
      ],
      [
        encodeCbor([
          new Map([
            [
              'signing_certificate',
              Array.from(enc('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')),
            ],
            ['signature', Array.from(good)],
          ]),
        ]),
        'signature.0.signing_certificate',
      ],
      [
        encodeCbor([
          new Map([
            ['signing_certificate', Array.from(pem)],
            ['signature', Array.from(encodeCbor([1, 2]))],
          ]),
        ]),
        'signature.0.signature',
      ],
      [
        encodeCbor([
          new Map([
            ['signing_certificate', Array.from(pem)],
            ['signature', Array.from(encodeCbor([enc('x'), new Map(), payload, enc('s')]))],
          ]),
        ]),
        'signature.0.signature.protected',
      ],
    ];
    for (const [section, path] of cases) {
      const p = describeEif(bytesSource(withSignature(section)));
      await expect(p).rejects.toHaveCode('BAD_SIGNATURE_SECTION');
      await p.catch((e: { path?: string }) => expect(e.path).toBe(path));
    }
    // A duplicate map key, written by hand: [ { "signature": [1], "signature": [1] } ]
    const key = [0x69, ...enc('signature')];
    const dup = new Uint8Array([0x81, 0xa2, ...key, 0x81, 0x01, ...key, 0x81, 0x01]);
    const p = describeEif(bytesSource(withSignature(dup)));
    await expect(p).rejects.toHaveCode('BAD_SIGNATURE_SECTION');
    await p.catch((e: { cause?: { code?: string } }) =>
      expect(e.cause?.code).toBe('DUPLICATE_KEY'),
    );
  });

  it('when the signature section exceeds 32768 bytes or repeats, it refuses', async () => {
    await expect(describeEif(bytesSource(withSignature(new Uint8Array(32769))))).rejects.toHaveCode(
      'SECTION_TOO_LARGE',
    );
    const signed = await assembleEif({ ...input(), signer: es384.signer });
    const d = await describeEif(bytesSource(signed));
    const s = d.sections.find((x) => x.type === 'signature')!;
    const data = signed.slice(s.offset + 12, s.offset + 12 + s.size);
    const twice = rawEif([
      ...soundSections(),
      { type: SIGNATURE, data },
      { type: SIGNATURE, data },
    ]);
    await expect(describeEif(bytesSource(twice))).rejects.toHaveCode('DUPLICATE_SECTION');
  });

  it('when WebCrypto verifies, it agrees with OpenSSL on the same Sig_structure (what nitro-cli checks)', async () => {
    const payload = encodePcrPayload(0, fromHex(PCR0));
    const protectedHeader = encodeProtectedHeader('ES384');
    const signed = sigStructure(protectedHeader, payload);
    const sig = await es384.signer.sign(signed);
    const cert = new X509Certificate(es384.certificatePem);
    const { verify } = await import('node:crypto');
    const key = await webcrypto.subtle.importKey(
      'spki',
      cert.publicKey.export({ type: 'spki', format: 'der' }),
      { name: 'ECDSA', namedCurve: 'P-384' },
      false,
      ['verify'],
    );
    const both = async (data: Uint8Array) => [
      verify('sha384', data, { key: cert.publicKey, dsaEncoding: 'ieee-p1363' }, sig),
      await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-384' }, key, sig, data),
    ];
    expect(await both(signed)).toEqual([true, true]);
    const altered = signed.slice();
    altered[altered.length - 1]! ^= 1;
    expect(await both(altered)).toEqual([false, false]);
  });
});
