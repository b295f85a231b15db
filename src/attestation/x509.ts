/**
 * The parts of an X.509 v3 certificate (RFC 5280 §4.1) that chain validation needs, read with a
 * strict DER parser.
 *
 * Why not @peculiar/x509 here: parsing one certificate with it costs about as much as one P-384
 * signature verification (its BER schema mapping), and every document brings a new leaf; the
 * verify path would spend more time parsing than verifying. @peculiar/x509 builds the certificates
 * of the software NSM and the test PKI, and the tests compare this parser with it on every
 * certificate they see.
 */
import { bytesEqual, toHex } from '../util/hex.js';
import {
  DerReader,
  TAG,
  bitString,
  decodeOid,
  derBoolean,
  smallInteger,
  unsignedInteger,
  type DerElement,
} from './der.js';

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  secp384r1: '1.3.132.0.34',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
} as const;

/** KeyUsage bits (RFC 5280 §4.2.1.3) as masks over the first two octets, bit 0 first. */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

/** A parsed certificate; byte fields are views into `der`. */
export interface Certificate {
  der: Uint8Array;
  /** The signed part exactly as received (RFC 5280 §4.1.1.1). */
  tbs: Uint8Array;
  serialNumber: Uint8Array;
  /** Dotted OID of `signatureAlgorithm`. */
  signatureAlgorithm: string;
  /** Raw r||s (96 bytes) when the algorithm is ecdsa-with-SHA384, otherwise the BIT STRING data. */
  signature: Uint8Array;
  /** DER of the issuer and subject Names, compared byte for byte. */
  issuer: Uint8Array;
  subject: Uint8Array;
  /** Validity in ms since the epoch; both ends inclusive (RFC 5280 §4.1.2.5). */
  notBefore: number;
  notAfter: number;
  /** SubjectPublicKeyInfo DER, its algorithm OID, its curve OID (EC keys) and the key bits. */
  spki: Uint8Array;
  keyAlgorithm: string;
  namedCurve: string | undefined;
  publicKey: Uint8Array;
  /** basicConstraints (RFC 5280 §4.2.1.9), absent when the extension is absent. */
  basicConstraints: { ca: boolean; pathLen: number | undefined; critical: boolean } | undefined;
  /** keyUsage bits (see KEY_USAGE), absent when the extension is absent. */
  keyUsage: { bits: number; critical: boolean } | undefined;
  /** OIDs of every extension, with its criticality. */
  extensions: Array<{ oid: string; critical: boolean }>;
}

/** Parses a DER certificate; `path` names it in errors (e.g. `payload.cabundle.2`). */
export function parseCertificate(der: Uint8Array, path: string): Certificate {
  const top = new DerReader(der, path);
  const certEl = top.next(TAG.SEQUENCE, 'Certificate');
  top.end('the certificate');
  const cert = top.child(certEl);
  const tbsEl = cert.next(TAG.SEQUENCE, 'tbsCertificate');
  const sigAlgEl = cert.next(TAG.SEQUENCE, 'signatureAlgorithm');
  const sigEl = cert.next(TAG.BIT_STRING, 'signatureValue');
  cert.end('signatureValue');

  const tbs = cert.child(tbsEl);
  // RFC 5280 §4.1.2.1: extensions require v3 (value 2), explicitly tagged [0].
  const verEl = tbs.next(0xa0, 'version');
  const ver = tbs.child(verEl);
  const version = smallInteger(ver, ver.next(TAG.INTEGER, 'version').value, 'version');
  ver.end('version');
  if (version !== 2) tbs.malformed(`version ${version + 1}; only v3 certificates are accepted`);
  const serialEl = tbs.next(TAG.INTEGER, 'serialNumber');
  if (serialEl.value.length === 0 || serialEl.value.length > 21)
    tbs.malformed('serialNumber longer than 20 octets');
  const innerAlgEl = tbs.next(TAG.SEQUENCE, 'signature');
  // RFC 5280 §4.1.2.3: must equal signatureAlgorithm of the outer structure.
  if (!bytesEqual(innerAlgEl.raw, sigAlgEl.raw))
    tbs.malformed('the two signature algorithm fields differ');
  const issuerEl = tbs.next(TAG.SEQUENCE, 'issuer');
  checkName(tbs, issuerEl);
  const validity = tbs.child(tbs.next(TAG.SEQUENCE, 'validity'));
  const notBefore = time(validity, validity.next(undefined, 'notBefore'));
  const notAfter = time(validity, validity.next(undefined, 'notAfter'));
  validity.end('validity');
  const subjectEl = tbs.next(TAG.SEQUENCE, 'subject');
  checkName(tbs, subjectEl);
  const spkiEl = tbs.next(TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const key = publicKeyInfo(tbs, spkiEl);
  // issuerUniqueID [1] and subjectUniqueID [2] are allowed but unused (RFC 5280 §4.1.2.8).
  if (tbs.peekTag() === 0x81) tbs.next(0x81);
  if (tbs.peekTag() === 0x82) tbs.next(0x82);
  const ext: Pick<Certificate, 'basicConstraints' | 'keyUsage' | 'extensions'> = {
    basicConstraints: undefined,
    keyUsage: undefined,
    extensions: [],
  };
  if (!tbs.atEnd()) extensions(tbs, tbs.next(0xa3, 'extensions'), ext);
  tbs.end('extensions');

  const sigAlg = algorithm(cert, sigAlgEl);
  if (sigAlg.params !== undefined && sigAlg.oid.startsWith('1.2.840.10045.4.'))
    // RFC 5758 §3.2: ECDSA signature algorithm identifiers have absent parameters.
    cert.malformed('ECDSA signature algorithm with parameters');
  const sigBits = bitString(cert, sigEl.value, 'signatureValue');
  if (sigBits.unused !== 0) cert.malformed('signatureValue has unused bits');
  const signature =
    sigAlg.oid === OID.ecdsaWithSha384 ? ecdsaRaw(cert, sigBits.data, 48) : sigBits.data;

  return {
    der,
    tbs: tbsEl.raw,
    serialNumber: serialEl.value,
    signatureAlgorithm: sigAlg.oid,
    signature,
    issuer: issuerEl.raw,
    subject: subjectEl.raw,
    notBefore,
    notAfter,
    spki: spkiEl.raw,
    ...key,
    ...ext,
  };
}

function algorithm(r: DerReader, el: DerElement): { oid: string; params: DerElement | undefined } {
  const a = r.child(el);
  const oid = decodeOid(a, a.next(TAG.OID, 'algorithm').value);
  const params = a.atEnd() ? undefined : a.next(undefined, 'algorithm parameters');
  a.end('algorithm parameters');
  return { oid, params };
}

/** Name ::= SEQUENCE OF SET OF AttributeTypeAndValue (RFC 5280 §4.1.2.4). */
function checkName(r: DerReader, el: DerElement): void {
  const rdns = r.child(el);
  while (!rdns.atEnd()) {
    const set = rdns.child(rdns.next(TAG.SET, 'RelativeDistinguishedName'));
    if (set.atEnd()) r.malformed('empty RelativeDistinguishedName');
    while (!set.atEnd()) {
      const atv = set.child(set.next(TAG.SEQUENCE, 'AttributeTypeAndValue'));
      decodeOid(atv, atv.next(TAG.OID, 'attribute type').value);
      atv.next(undefined, 'attribute value');
      atv.end('attribute value');
    }
  }
}

/** UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1-2). */
function time(r: DerReader, el: DerElement): number {
  const s = String.fromCharCode(...el.value);
  let m: RegExpExecArray | null;
  let year: number;
  if (el.tag === TAG.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy; // §4.1.2.5.1
  } else if (
    el.tag === TAG.GENERALIZED_TIME &&
    (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))
  ) {
    year = Number(m[1]);
  } else
    return r.malformed(
      `validity time ${JSON.stringify(s)} is not UTCTime or GeneralizedTime in UTC`,
    );
  const [mo, d, h, mi, sec] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, sec, 0);
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    sec > 59
  )
    r.malformed(`validity time ${JSON.stringify(s)} is not a real date`);
  return date.getTime();
}

function publicKeyInfo(
  r: DerReader,
  el: DerElement,
): Pick<Certificate, 'keyAlgorithm' | 'namedCurve' | 'publicKey'> {
  const spki = r.child(el);
  const alg = algorithm(spki, spki.next(TAG.SEQUENCE, 'subjectPublicKeyInfo.algorithm'));
  const bits = bitString(
    spki,
    spki.next(TAG.BIT_STRING, 'subjectPublicKey').value,
    'subjectPublicKey',
  );
  spki.end('subjectPublicKey');
  let namedCurve: string | undefined;
  if (alg.oid === OID.ecPublicKey) {
    // RFC 5480 §2.1.1: ECParameters is a namedCurve OID for these keys.
    if (alg.params?.tag !== TAG.OID) r.malformed('EC public key without a named curve');
    namedCurve = decodeOid(r, alg.params.value);
    if (bits.unused !== 0) r.malformed('EC public key with unused bits');
  }
  return { keyAlgorithm: alg.oid, namedCurve, publicKey: bits.data };
}

function extensions(
  r: DerReader,
  el: DerElement,
  out: Pick<Certificate, 'basicConstraints' | 'keyUsage' | 'extensions'>,
): void {
  const outer = r.child(el);
  const list = outer.child(outer.next(TAG.SEQUENCE, 'Extensions'));
  outer.end('Extensions');
  if (list.atEnd()) r.malformed('empty extensions');
  const seen = new Set<string>();
  while (!list.atEnd()) {
    const e = list.child(list.next(TAG.SEQUENCE, 'Extension'));
    const oid = decodeOid(e, e.next(TAG.OID, 'extnID').value);
    let critical = false;
    if (e.peekTag() === TAG.BOOLEAN) {
      critical = derBoolean(e, e.next(TAG.BOOLEAN).value, 'critical');
      // X.690 §11.5: a DEFAULT value (critical FALSE) is never encoded in DER.
      if (!critical) r.malformed(`extension ${oid} encodes the default critical FALSE`);
    }
    const value = e.next(TAG.OCTET_STRING, 'extnValue').value;
    e.end('extnValue');
    // RFC 5280 §4.2: a certificate must not include more than one instance of an extension.
    if (seen.has(oid)) r.malformed(`extension ${oid} appears twice`);
    seen.add(oid);
    out.extensions.push({ oid, critical });
    if (oid === OID.basicConstraints)
      out.basicConstraints = { ...basicConstraints(r, value), critical };
    else if (oid === OID.keyUsage) out.keyUsage = { bits: keyUsage(r, value), critical };
  }
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
function basicConstraints(
  r: DerReader,
  value: Uint8Array,
): { ca: boolean; pathLen: number | undefined } {
  const outer = new DerReader(value, r.path);
  const seq = outer.child(outer.next(TAG.SEQUENCE, 'basicConstraints'));
  outer.end('basicConstraints');
  let ca = false;
  let pathLen: number | undefined;
  if (seq.peekTag() === TAG.BOOLEAN) {
    ca = derBoolean(seq, seq.next(TAG.BOOLEAN).value, 'cA');
    if (!ca) r.malformed('basicConstraints encodes the default cA FALSE');
  }
  if (seq.peekTag() === TAG.INTEGER)
    pathLen = smallInteger(seq, seq.next(TAG.INTEGER).value, 'pathLenConstraint');
  seq.end('basicConstraints');
  // RFC 5280 §4.2.1.9: pathLenConstraint only appears when cA is asserted.
  if (pathLen !== undefined && !ca)
    r.malformed('pathLenConstraint on a certificate that is not a CA');
  return { ca, pathLen };
}

/** KeyUsage ::= BIT STRING (RFC 5280 §4.2.1.3); returns bit i of the string as mask 1 << i. */
function keyUsage(r: DerReader, value: Uint8Array): number {
  const outer = new DerReader(value, r.path);
  const { data } = bitString(outer, outer.next(TAG.BIT_STRING, 'keyUsage').value, 'keyUsage');
  outer.end('keyUsage');
  if (data.length === 0 || data.length > 2) r.malformed('keyUsage has no bits or too many octets');
  let bits = 0;
  for (let i = 0; i < data.length * 8; i++) if (data[i >> 3]! & (0x80 >> (i & 7))) bits |= 1 << i;
  if (bits === 0) r.malformed('keyUsage asserts no bit');
  return bits;
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2 via RFC 5758) -> raw r||s. */
function ecdsaRaw(r: DerReader, sig: Uint8Array, size: number): Uint8Array {
  const outer = new DerReader(sig, r.path);
  const seq = outer.child(outer.next(TAG.SEQUENCE, 'ECDSA signature'));
  outer.end('ECDSA signature');
  const out = new Uint8Array(size * 2);
  for (let i = 0; i < 2; i++) {
    const v = unsignedInteger(
      seq,
      seq.next(TAG.INTEGER, 'ECDSA signature').value,
      'ECDSA signature',
    );
    if (v.length > size) r.malformed('ECDSA signature integer longer than the curve order');
    out.set(v, size * (i + 1) - v.length);
  }
  seq.end('ECDSA signature');
  return out;
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'E',
};

/** Renders a DER Name for messages, e.g. `C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves`. */
export function nameToString(name: Uint8Array): string {
  try {
    const top = new DerReader(name, 'name');
    const rdns = top.child(top.next(TAG.SEQUENCE));
    const parts: string[] = [];
    while (!rdns.atEnd()) {
      const set = rdns.child(rdns.next(TAG.SET));
      while (!set.atEnd()) {
        const atv = set.child(set.next(TAG.SEQUENCE));
        const oid = decodeOid(atv, atv.next(TAG.OID).value);
        const v = atv.next();
        const text =
          v.tag === TAG.UTF8_STRING
            ? new TextDecoder('utf-8', { fatal: true }).decode(v.value)
            : v.tag === TAG.PRINTABLE_STRING ||
                v.tag === TAG.IA5_STRING ||
                v.tag === TAG.TELETEX_STRING
              ? String.fromCharCode(...v.value)
              : `#${toHex(v.value)}`;
        parts.push(`${SHORT_NAMES[oid] ?? oid}=${text}`);
      }
    }
    return parts.join(', ');
  } catch {
    return '(unreadable name)';
  }
}

/** The CN of a DER Name, or the whole rendered name when there is none. */
export function commonName(name: Uint8Array): string {
  const s = nameToString(name);
  const cn = s.split(', ').find((p) => p.startsWith('CN='));
  return cn === undefined ? s : cn.slice(3);
}
