import 'reflect-metadata';
import { beforeAll, describe, expect, it } from '@jest/globals';
import * as x509 from '@peculiar/x509';
import {
  decodeAttestation,
  SIMULATION_ROOT,
  AWS_NITRO_ROOT_G1,
} from '../../src/attestation/index.js';
import { DerReader } from '../../src/attestation/der.js';
import {
  KEY_USAGE,
  OID,
  nameToString,
  parseCertificate,
  type Certificate,
} from '../../src/attestation/x509.js';
import { concatBytes } from '../../src/util/bytes.js';
import { fromHex, toHex } from '../../src/util/hex.js';
import { FACTS, readFixture } from '../support/attestation/attestation-fixtures.js';
import { forgeChain, LEVELS } from '../support/attestation/pki-forge.js';

/** Every certificate of every fixture document (genuine, negative and mock), with its origin. */
function fixtureCertificates(): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  for (const f of FACTS) {
    let d;
    try {
      d = decodeAttestation(readFixture(f.file));
    } catch {
      continue; // the malformed fixtures have no decodable certificates
    }
    out.push([`${f.file} leaf`, d.certificate]);
    d.cabundle.forEach((c, i) => out.push([`${f.file} cabundle[${i}]`, c]));
  }
  return out;
}

/** What @peculiar/x509 reads from the same certificate, in our shape. */
function reference(der: Uint8Array): Record<string, unknown> {
  const c = new x509.X509Certificate(der.slice().buffer);
  const bc = c.getExtension(x509.BasicConstraintsExtension);
  const ku = c.getExtension(x509.KeyUsagesExtension);
  return {
    serialNumber: c.serialNumber.replace(/^0+(?=.)/, '').toLowerCase(),
    issuer: toHex(new Uint8Array(c.issuerName.toArrayBuffer())),
    subject: toHex(new Uint8Array(c.subjectName.toArrayBuffer())),
    notBefore: c.notBefore.getTime(),
    notAfter: c.notAfter.getTime(),
    spki: toHex(new Uint8Array(c.publicKey.rawData)),
    ca: bc?.ca,
    pathLen: bc?.pathLength,
    keyUsage: ku?.usages,
    extensions: c.extensions.map((e) => `${e.type}${e.critical ? '!' : ''}`),
  };
}

function ours(c: Certificate): Record<string, unknown> {
  return {
    serialNumber: toHex(c.serialNumber).replace(/^0+(?=.)/, ''),
    issuer: toHex(c.issuer),
    subject: toHex(c.subject),
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    spki: toHex(c.spki),
    ca: c.basicConstraints?.ca,
    pathLen: c.basicConstraints?.pathLen,
    keyUsage: c.keyUsage?.bits,
    extensions: c.extensions.map((e) => `${e.oid}${e.critical ? '!' : ''}`),
  };
}

describe('parseCertificate against @peculiar/x509', () => {
  const certs = fixtureCertificates();

  it('when reading the fixtures, it finds the certificates of all decodable documents', () => {
    expect(certs.length).toBeGreaterThanOrEqual(19 * 5);
  });

  it.each(certs)('when parsing %s, it reads the same fields as @peculiar/x509', (_name, der) => {
    expect(ours(parseCertificate(der, 'c'))).toEqual(reference(der));
  });

  it('when parsing the certificates of a forged chain and the simulation root, it reads the same fields', async () => {
    const chain = await forgeChain();
    for (const level of LEVELS)
      expect(ours(parseCertificate(chain[level].der, level))).toEqual(reference(chain[level].der));
    expect(ours(parseCertificate(SIMULATION_ROOT.der, 'sim'))).toEqual(
      reference(SIMULATION_ROOT.der),
    );
  });
});

describe('parseCertificate on the AWS root', () => {
  const c = parseCertificate(AWS_NITRO_ROOT_G1.der, 'root');

  it('when parsed, it has the subject, validity, key and constraints of nitro-brief §2.3', () => {
    expect(nameToString(c.subject)).toBe('C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves');
    expect(toHex(c.issuer)).toBe(toHex(c.subject));
    expect(new Date(c.notBefore).toISOString()).toBe('2019-10-28T13:28:05.000Z');
    expect(new Date(c.notAfter).toISOString()).toBe('2049-10-28T14:28:05.000Z');
    expect(toHex(c.serialNumber)).toBe('00f93175681b90afe11d46ccb4e4e7f856'); // INTEGER contents, sign octet included
    expect([c.keyAlgorithm, c.namedCurve, c.publicKey.length]).toEqual([
      OID.ecPublicKey,
      OID.secp384r1,
      97,
    ]);
    expect(c.basicConstraints).toEqual({ ca: true, pathLen: undefined, critical: true });
    expect(c.keyUsage?.bits).toBe(
      KEY_USAGE.digitalSignature | KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign,
    );
    expect(c.signatureAlgorithm).toBe(OID.ecdsaWithSha384);
    expect(c.signature.length).toBe(96);
  });
});

/** The DER children of a constructed element, as raw TLVs. */
function children(der: Uint8Array): Uint8Array[] {
  const r = new DerReader(der, 'x');
  const el = r.next();
  const c = r.child(el);
  const out: Uint8Array[] = [];
  while (!c.atEnd()) out.push(c.next().raw);
  return out;
}

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(parts);
  const n = body.length;
  const len = n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concatBytes([Uint8Array.of(tag, ...len), body]);
}

function extensionsOf(...exts: Uint8Array[]): Uint8Array {
  return tlv(0xa3, tlv(0x30, ...exts));
}

describe('parseCertificate: strict DER (X.690 §10, RFC 5280 §4.1)', () => {
  let leaf: Uint8Array;
  let tbsParts: Uint8Array[];
  let outer: Uint8Array[];

  beforeAll(async () => {
    leaf = (await forgeChain()).leaf.der;
    outer = children(leaf);
    tbsParts = children(outer[0]!);
  });

  /** The leaf with TBS child `i` replaced (or the outer parts edited). */
  function withTbs(i: number, part: Uint8Array | null): Uint8Array {
    const parts = tbsParts
      .map((p, j) => (j === i ? part : p))
      .filter((p): p is Uint8Array => p !== null);
    return tlv(0x30, tlv(0x30, ...parts), outer[1]!, outer[2]!);
  }

  it('when rebuilt from its own parts, the leaf parses (the test builder is sound)', () => {
    expect(toHex(withTbs(-1, null))).toBe(toHex(leaf));
    expect(() => parseCertificate(withTbs(-1, null), 'c')).not.toThrow();
  });

  it.each([
    [
      'a trailing byte after the certificate',
      (d: Uint8Array) => concatBytes([d, Uint8Array.of(0)]),
    ],
    ['a truncated certificate', (d: Uint8Array) => d.subarray(0, d.length - 1)],
    [
      'an indefinite length',
      (d: Uint8Array) =>
        concatBytes([Uint8Array.of(0x30, 0x80), d.subarray(4), Uint8Array.of(0, 0)]),
    ],
    [
      'a long-form length for a short value',
      (d: Uint8Array) => {
        const c = children(d);
        return tlv(
          0x30,
          c[0]!,
          concatBytes([Uint8Array.of(0x30, 0x81, c[1]!.length - 2), c[1]!.subarray(2)]),
          c[2]!,
        );
      },
    ],
  ])('when the certificate has %s, it refuses with CERT_MALFORMED', (_what, edit) => {
    expect(() => parseCertificate(edit(leaf), 'payload.certificate')).toThrowWithCode(
      'CERT_MALFORMED',
    );
  });

  it('when the certificate is v1, it refuses with CERT_MALFORMED', () => {
    expect(() => parseCertificate(withTbs(0, fromHex('a003020100')), 'c')).toThrowWithCode(
      'CERT_MALFORMED',
    );
  });

  it('when the inner and outer signature algorithms differ, it refuses with CERT_MALFORMED', () => {
    const sha256 = tlv(0x30, tlv(0x06, fromHex('2a8648ce3d040302')));
    expect(() => parseCertificate(withTbs(2, sha256), 'c')).toThrowWithCode('CERT_MALFORMED');
  });

  it('when a validity time is not a real date (Feb 30), it refuses with CERT_MALFORMED', () => {
    const bad = tlv(
      0x30,
      tlv(0x17, new TextEncoder().encode('250230120000Z')),
      tlv(0x17, new TextEncoder().encode('260101000000Z')),
    );
    expect(() => parseCertificate(withTbs(4, bad), 'c')).toThrowWithCode('CERT_MALFORMED');
  });

  it('when a validity time has no seconds, it refuses with CERT_MALFORMED', () => {
    const bad = tlv(
      0x30,
      tlv(0x17, new TextEncoder().encode('2501011200Z')),
      tlv(0x17, new TextEncoder().encode('260101000000Z')),
    );
    expect(() => parseCertificate(withTbs(4, bad), 'c')).toThrowWithCode('CERT_MALFORMED');
  });

  it('when a GeneralizedTime year is below 100, it is that year (not 19xx)', () => {
    const t = tlv(
      0x30,
      tlv(0x18, new TextEncoder().encode('00500101000000Z')),
      tlv(0x18, new TextEncoder().encode('20500101000000Z')),
    );
    expect(new Date(parseCertificate(withTbs(4, t), 'c').notBefore).getUTCFullYear()).toBe(50);
  });

  it('when UTCTime years are 50..99, they are 1950..1999 (RFC 5280 §4.1.2.5.1)', () => {
    const t = tlv(
      0x30,
      tlv(0x17, new TextEncoder().encode('500101000000Z')),
      tlv(0x18, new TextEncoder().encode('20500101000000Z')),
    );
    const c = parseCertificate(withTbs(4, t), 'c');
    expect([new Date(c.notBefore).toISOString(), new Date(c.notAfter).toISOString()]).toEqual([
      '1950-01-01T00:00:00.000Z',
      '2050-01-01T00:00:00.000Z',
    ]);
  });

  const bcOid = tlv(0x06, fromHex('551d13'));
  const kuOid = tlv(0x06, fromHex('551d0f'));
  const TRUE = fromHex('0101ff');
  const FALSE = fromHex('010100');
  const kuDigital = tlv(0x04, fromHex('03020780'));

  it.each([
    ['critical FALSE encoded', extensionsOf(tlv(0x30, kuOid, FALSE, kuDigital))],
    [
      'the same extension twice',
      extensionsOf(tlv(0x30, kuOid, kuDigital), tlv(0x30, kuOid, kuDigital)),
    ],
    [
      'cA FALSE encoded in basicConstraints',
      extensionsOf(tlv(0x30, bcOid, TRUE, tlv(0x04, tlv(0x30, FALSE)))),
    ],
    [
      'a pathLenConstraint without cA',
      extensionsOf(tlv(0x30, bcOid, TRUE, tlv(0x04, tlv(0x30, fromHex('020100'))))),
    ],
    ['a keyUsage with no bit', extensionsOf(tlv(0x30, kuOid, tlv(0x04, fromHex('030100'))))],
    [
      'a keyUsage with non-zero unused bits',
      extensionsOf(tlv(0x30, kuOid, tlv(0x04, fromHex('030207ff')))),
    ],
    ['an empty extension list', tlv(0xa3, tlv(0x30))],
    ['a BOOLEAN that is not 00/ff', extensionsOf(tlv(0x30, kuOid, fromHex('010101'), kuDigital))],
  ])('when the extensions have %s, it refuses with CERT_MALFORMED', (_what, exts) => {
    const i = tbsParts.findIndex((p) => p[0] === 0xa3);
    expect(() => parseCertificate(withTbs(i, exts), 'c')).toThrowWithCode('CERT_MALFORMED');
  });

  it('when the extensions are well formed, the bits and flags are read', () => {
    const i = tbsParts.findIndex((p) => p[0] === 0xa3);
    const exts = extensionsOf(
      tlv(0x30, bcOid, TRUE, tlv(0x04, tlv(0x30, TRUE, fromHex('020103')))),
      tlv(0x30, kuOid, tlv(0x04, fromHex('03020204'))), // keyCertSign (bit 5): 0x04 with 2 unused bits
      tlv(0x30, tlv(0x06, fromHex('2b0601040182b70101')), TRUE, tlv(0x04, fromHex('0500'))),
    );
    const c = parseCertificate(withTbs(i, exts), 'c');
    expect(c.basicConstraints).toEqual({ ca: true, pathLen: 3, critical: true });
    expect(c.keyUsage).toEqual({ bits: KEY_USAGE.keyCertSign, critical: false });
    expect(c.extensions.map((e) => e.critical)).toEqual([true, false, true]);
  });

  it('when the error is raised, it carries the path it was given', () => {
    try {
      parseCertificate(Uint8Array.of(0x30, 0x00), 'payload.cabundle.2');
      throw new Error('accepted');
    } catch (e) {
      expect(e).toHaveCode('CERT_MALFORMED');
      expect((e as { path?: string }).path).toBe('payload.cabundle.2');
    }
  });
});
