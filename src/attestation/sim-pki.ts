/**
 * Certificate issuance for the software NSM and the test PKI, on @peculiar/x509 and Web Crypto.
 * The chain mirrors AWS's (nitro-brief §2.3): root -> regional (CA, pathLen 2) -> zonal (CA,
 * pathLen 1) -> instance (CA, pathLen 0, keyCertSign) -> leaf (~3 h, CA:false, digitalSignature +
 * nonRepudiation, non-critical keyUsage). Every property can be overridden, which is how the tests
 * build broken chains.
 *
 * Loaded on demand (dynamic import) so that the verify path never loads @peculiar/x509.
 */
import * as x509 from '../util/x509.js';
import { toHex } from '../util/hex.js';
import { bufferSource } from './crypto.js';

x509.cryptoProvider.set(globalThis.crypto);

const P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;

/** A certificate with the private key of its subject. */
export interface Issued {
  der: Uint8Array;
  keys: CryptoKeyPair;
}

/** Everything about one certificate; see `issueCertificate`. */
export interface CertSpec {
  /** Subject as RFC 4514 text (`C=US, O=…, CN=…`) or as DER of a Name. */
  subject: string | Uint8Array;
  keys: CryptoKeyPair;
  /** Issuer certificate and key; absent: self-signed. */
  issuer?: Issued;
  /** Override of the issuer name written into the certificate (default: the issuer's subject). */
  issuerName?: string | Uint8Array;
  notBefore: number;
  notAfter: number;
  /** null omits the extension. */
  basicConstraints: { ca: boolean; pathLen?: number; critical?: boolean } | null;
  /** KEY_USAGE-style mask (bit 0 digitalSignature … bit 6 cRLSign); null omits the extension. */
  keyUsage: { usages: number; critical: boolean } | null;
  /** Subject/authority key identifiers, as AWS's CA certificates carry. */
  keyIdentifiers: boolean;
  /** Extra extensions, e.g. an unknown critical one. */
  extensions?: x509.Extension[];
  /** Hash of the ECDSA signature; default SHA-384. */
  signatureHash?: 'SHA-256' | 'SHA-384';
  /** Hex serial number; default random. */
  serialNumber?: string;
}

/** A fresh P-384 key pair (extractable, so tests can export it). */
export async function generateP384(): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(P384, true, ['sign', 'verify']);
}

/** A fresh P-256 key pair (for tests of unsupported keys and algorithms). */
export async function generateP256(): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
}

function randomSerial(): string {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, 16 significant octets
  return toHex(b);
}

function toName(n: string | Uint8Array): x509.Name {
  return new x509.Name(typeof n === 'string' ? n : bufferSource(n));
}

/** Issues one certificate from `spec`; returns its DER. */
export async function issueCertificate(spec: CertSpec): Promise<Uint8Array> {
  const extensions: x509.Extension[] = [];
  const bc = spec.basicConstraints;
  if (bc !== null)
    extensions.push(new x509.BasicConstraintsExtension(bc.ca, bc.pathLen, bc.critical ?? true));
  if (spec.keyIdentifiers && spec.issuer !== undefined)
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.keys.publicKey));
  if (spec.keyIdentifiers)
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(spec.keys.publicKey));
  if (spec.keyUsage !== null)
    extensions.push(new x509.KeyUsagesExtension(spec.keyUsage.usages, spec.keyUsage.critical));
  extensions.push(...(spec.extensions ?? []));
  const signer = spec.issuer?.keys.privateKey ?? spec.keys.privateKey;
  const issuerName =
    spec.issuerName ??
    (spec.issuer
      ? new x509.X509Certificate(bufferSource(spec.issuer.der)).subjectName
      : spec.subject);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serialNumber ?? randomSerial(),
    subject: toName(spec.subject),
    issuer: issuerName instanceof x509.Name ? issuerName : toName(issuerName),
    notBefore: new Date(Math.floor(spec.notBefore / 1000) * 1000),
    notAfter: new Date(Math.floor(spec.notAfter / 1000) * 1000),
    signingAlgorithm: { name: 'ECDSA', hash: spec.signatureHash ?? 'SHA-384' },
    publicKey: spec.keys.publicKey,
    signingKey: signer,
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

/** KeyUsage masks as @peculiar/x509 numbers them (bit 0 = digitalSignature). */
export const USAGE = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyCertSign: 32,
  cRLSign: 64,
} as const;

/** The five positions of a Nitro chain. */
export type ChainLevel = 'root' | 'regional' | 'zonal' | 'instance' | 'leaf';

/** The standard certificate profile of each position (see the module comment). */
export function nitroProfile(
  level: ChainLevel,
): Pick<CertSpec, 'basicConstraints' | 'keyUsage' | 'keyIdentifiers'> {
  const caUsage = {
    usages: USAGE.digitalSignature | USAGE.keyCertSign | USAGE.cRLSign,
    critical: true,
  };
  switch (level) {
    case 'root':
      return { basicConstraints: { ca: true }, keyUsage: caUsage, keyIdentifiers: true };
    case 'regional':
      return {
        basicConstraints: { ca: true, pathLen: 2 },
        keyUsage: caUsage,
        keyIdentifiers: true,
      };
    case 'zonal':
      return {
        basicConstraints: { ca: true, pathLen: 1 },
        keyUsage: caUsage,
        keyIdentifiers: true,
      };
    case 'instance':
      return {
        basicConstraints: { ca: true, pathLen: 0 },
        keyUsage: { usages: USAGE.keyCertSign, critical: true },
        keyIdentifiers: false,
      };
    case 'leaf':
      return {
        basicConstraints: { ca: false },
        keyUsage: { usages: USAGE.digitalSignature | USAGE.nonRepudiation, critical: false },
        keyIdentifiers: false,
      };
  }
}

/** Imports a PKCS#8 PEM P-384 private key for signing. */
export async function importP384PrivateKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey('pkcs8', bufferSource(pkcs8), P384, false, ['sign']);
}

/** The public key of a certificate, as a Web Crypto key. */
export async function certificatePublicKey(der: Uint8Array): Promise<CryptoKey> {
  const cert = new x509.X509Certificate(bufferSource(der));
  return cert.publicKey.export(P384, ['verify']);
}

export { x509 };
