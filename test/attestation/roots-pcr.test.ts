import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  AWS_NITRO_ROOT_G1,
  SIMULATION_ROOT,
  decodeAttestation,
  isDebugDocument,
  pcr3ForIamRole,
  pcr4ForInstanceId,
  pcrExtend,
  trustAnchorFromPem,
} from '../../src/attestation/index.js';
import { bufferSource } from '../../src/attestation/crypto.js';
import { derToPem, pemToDer } from '../../src/cose/index.js';
import { SIMULATION_ROOT_PRIVATE_KEY_PEM } from '../../src/attestation/simulation-root.js';
import { nameToString, parseCertificate } from '../../src/attestation/x509.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import {
  GENUINE,
  NITRO_DIR,
  isDebugFact,
  readFixture,
} from '../support/attestation/attestation-fixtures.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('trust anchors', () => {
  it('when hashing the pinned AWS root, its DER SHA-256 is 641a0321…bb5b (nitro-brief §2.3)', () => {
    expect(sha256(AWS_NITRO_ROOT_G1.der)).toBe(
      '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b',
    );
    expect(AWS_NITRO_ROOT_G1.name).toBe('aws-nitro-root-g1');
  });

  it('when compared with the fixture PEM and every genuine cabundle[0], the pinned root is identical', () => {
    const pem = readFileSync(`${NITRO_DIR}aws-nitro-root-g1.pem`, 'utf8');
    expect(toHex(pemToDer(pem))).toBe(toHex(AWS_NITRO_ROOT_G1.der));
    for (const f of GENUINE)
      expect(toHex(decodeAttestation(readFixture(f.file)).cabundle[0]!)).toBe(
        toHex(AWS_NITRO_ROOT_G1.der),
      );
  });

  it('when reading the simulation root, it is a self-signed P-384 CA that says it is not trusted', () => {
    const c = parseCertificate(SIMULATION_ROOT.der, 'sim');
    expect(nameToString(c.subject)).toMatch(/OU=simulation \(not trusted\)/);
    expect(toHex(c.subject)).toBe(toHex(c.issuer));
    expect(c.basicConstraints?.ca).toBe(true);
    expect(SIMULATION_ROOT.name).toBe('tee-compile-simulation');
  });

  it('when the simulation private key is imported, it matches the simulation root certificate', async () => {
    const key = await globalThis.crypto.subtle.importKey(
      'pkcs8',
      bufferSource(pemToDer(SIMULATION_ROOT_PRIVATE_KEY_PEM, 'PRIVATE KEY')),
      { name: 'ECDSA', namedCurve: 'P-384' },
      true,
      ['sign'],
    );
    const jwk = await globalThis.crypto.subtle.exportKey('jwk', key);
    const point = parseCertificate(SIMULATION_ROOT.der, 'sim').publicKey;
    expect(Buffer.from(jwk.x!, 'base64url').toString('hex')).toBe(toHex(point.subarray(1, 49)));
  });

  it('when given a PEM certificate, trustAnchorFromPem returns its DER under the given name', () => {
    const a = trustAnchorFromPem('mine', derToPem(SIMULATION_ROOT.der));
    expect(a.name).toBe('mine');
    expect(toHex(a.der)).toBe(toHex(SIMULATION_ROOT.der));
  });

  it.each([
    ['no PEM block', 'hello'],
    ['two PEM blocks', derToPem(SIMULATION_ROOT.der) + derToPem(AWS_NITRO_ROOT_G1.der)],
    ['broken base64', '-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----'],
    ['a PEM that is not a certificate', derToPem(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00))],
  ])('when given %s, trustAnchorFromPem refuses with CERT_MALFORMED', (_what, pem) => {
    expect(() => trustAnchorFromPem('x', pem)).toThrowWithCode('CERT_MALFORMED');
  });
});

describe('PCR helpers (nitro-brief §1.2, §2.4)', () => {
  it('when extending a zero PCR16 with "abc", it gives b1c16eb7…343e09 (nitro-brief §1.2)', () => {
    const v = toHex(pcrExtend(new Uint8Array(48), new TextEncoder().encode('abc')));
    expect(v.startsWith('b1c16eb7')).toBe(true);
    expect(v.endsWith('343e09')).toBe(true);
  });

  it('when extending, it is SHA-384 of the old value followed by the raw data', () => {
    const old = fromHex('11'.repeat(48));
    const data = Uint8Array.of(1, 2, 3);
    const want = createHash('sha384').update(old).update(data).digest('hex');
    expect(toHex(pcrExtend(old, data))).toBe(want);
  });

  it('when the old value is not 48 bytes, it throws a TypeError', () => {
    expect(() => pcrExtend(new Uint8Array(32), new Uint8Array(1))).toThrow(TypeError);
  });

  it('when computing PCR3 of the User Guide role ARN, it gives 78fce75d…21e6', () => {
    const v = toHex(pcr3ForIamRole('arn:aws:iam::123456789012:role/Webserver'));
    expect([v.slice(0, 8), v.slice(-4)]).toEqual(['78fce75d', '21e6']);
  });

  it('when computing PCR4 of the User Guide instance id, it gives 08f996b5…9ce0', () => {
    const v = toHex(pcr4ForInstanceId('i-1234567890abcdef0'));
    expect([v.slice(0, 8), v.slice(-4)]).toEqual(['08f996b5', '9ce0']);
  });

  it('when computing PCR4 of the instance of a genuine document, it matches its PCR4', () => {
    // doc-anjuna-1 comes from instance i-078824548edcf6519 (its module id).
    const d = decodeAttestation(readFixture('doc-anjuna-1.cbor'));
    expect(toHex(pcr4ForInstanceId('i-078824548edcf6519'))).toBe(toHex(d.pcrs.get(4)!));
  });

  it.each(GENUINE.map((f) => [f.file, isDebugFact(f)] as const))(
    'when asked whether %s is a debug document, it answers %s',
    (file, debug) => {
      expect(isDebugDocument(decodeAttestation(readFixture(file)))).toBe(debug);
    },
  );

  it('when PCR0 is absent, the document is not called debug', () => {
    expect(isDebugDocument({ pcrs: new Map([[1, new Uint8Array(48)]]) })).toBe(false);
  });
});
