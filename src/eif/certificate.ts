/**
 * How `nitro-cli describe-eif` presents the signing certificate (`SignCertificateInfo`,
 * aws-nitro-enclaves-image-format `src/utils/eif_reader.rs` `get_certificate_info`): OpenSSL long
 * names and OpenSSL's time format, because that is what the Rust openssl crate prints.
 */
import type { X509Certificate } from '../util/x509.js';

/** What `nitro-cli describe-eif` prints as `SigningCertificate` (`SignCertificateInfo`). */
export interface SigningCertificateInfo {
  /** Issuer attributes by OpenSSL long name; a repeated attribute keeps its last value. */
  IssuerName: Record<string, string>;
  /** OpenSSL long name of the certificate's signature algorithm, e.g. `ecdsa-with-SHA384`. */
  Algorithm: string;
  /** OpenSSL `ASN1_TIME_print` form, e.g. `Oct 28 13:28:05 2019 GMT`. */
  NotBefore: string;
  NotAfter: string;
  /** The certificate's signature value bytes as `XX:XX:…`. */
  Signature: string;
}

// OpenSSL long names (OBJ_nid2ln) of the attribute short names @peculiar/x509 reports, and of a
// few attributes it reports by OID; anything else prints as its OID, as OBJ_obj2txt does.
const ATTRIBUTE_LONG_NAMES: Record<string, string> = {
  CN: 'commonName',
  C: 'countryName',
  L: 'localityName',
  ST: 'stateOrProvinceName',
  O: 'organizationName',
  OU: 'organizationalUnitName',
  E: 'emailAddress',
  DC: 'domainComponent',
  G: 'givenName',
  I: 'initials',
  SN: 'surname',
  T: 'title',
  '2.5.4.5': 'serialNumber',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'userId',
};

const SIGNATURE_ALGORITHM_LONG_NAMES: Record<string, string> = {
  'ECDSA/SHA-1': 'ecdsa-with-SHA1',
  'ECDSA/SHA-256': 'ecdsa-with-SHA256',
  'ECDSA/SHA-384': 'ecdsa-with-SHA384',
  'ECDSA/SHA-512': 'ecdsa-with-SHA512',
  'RSASSA-PKCS1-v1_5/SHA-1': 'sha1WithRSAEncryption',
  'RSASSA-PKCS1-v1_5/SHA-256': 'sha256WithRSAEncryption',
  'RSASSA-PKCS1-v1_5/SHA-384': 'sha384WithRSAEncryption',
  'RSASSA-PKCS1-v1_5/SHA-512': 'sha512WithRSAEncryption',
  'RSA-PSS': 'rsassaPss',
  Ed25519: 'ED25519',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A date as OpenSSL's `ASN1_TIME_print` writes it (what describe-eif shows). */
export function opensslTime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ` +
    `${d.getUTCFullYear()} GMT`
  );
}

function hashName(h: unknown): string {
  if (typeof h === 'string') return h;
  if (typeof h === 'object' && h !== null && typeof (h as { name?: unknown }).name === 'string')
    return (h as { name: string }).name;
  return '';
}

/** describe-eif's view of a certificate. */
export function certificateInfo(cert: X509Certificate): SigningCertificateInfo {
  const issuer: Record<string, string> = {};
  for (const rdn of cert.issuerName.toJSON())
    for (const [type, values] of Object.entries(rdn))
      for (const value of values) issuer[ATTRIBUTE_LONG_NAMES[type] ?? type] = value;
  const sorted: Record<string, string> = {};
  // describe-eif keeps the issuer in a BTreeMap: keys in byte order.
  for (const k of Object.keys(issuer).sort()) sorted[k] = issuer[k]!;
  const alg = cert.signatureAlgorithm as { name: string; hash?: unknown };
  const key = alg.hash === undefined ? alg.name : `${alg.name}/${hashName(alg.hash)}`;
  return {
    IssuerName: sorted,
    Algorithm:
      SIGNATURE_ALGORITHM_LONG_NAMES[key] ?? SIGNATURE_ALGORITHM_LONG_NAMES[alg.name] ?? alg.name,
    NotBefore: opensslTime(cert.notBefore),
    NotAfter: opensslTime(cert.notAfter),
    Signature: Array.from(new Uint8Array(cert.signature), (b) =>
      b.toString(16).toUpperCase().padStart(2, '0'),
    ).join(':'),
  };
}
