/**
 * Certification path from the document's leaf through its cabundle to a trust anchor
 * (NSM API docs/attestation_process.md §3.2.3-§3.2.4, RFC 5280 §6.1), without revocation (§3.2.4:
 * "We do not use CRL").
 *
 * The bundle's own root is never trusted for being there: `cabundle[0]` must be a trust anchor byte
 * for byte, or carry an anchor's name and key, or be issued by an anchor (then the anchor heads
 * the path). Checks run cheapest first; signatures run last and concurrently.
 */
import { bytesEqual } from '../util/hex.js';
import type { CachedCertificate, ChainCacheInternal } from './cache.js';
import type { SignatureVerifier } from './crypto.js';
import { fail } from './errors.js';
import type { TrustAnchor } from './types.js';
import { KEY_USAGE, OID, commonName, type Certificate } from './x509.js';

/** Uncompressed P-384 point: 0x04 || X (48) || Y (48) (SEC 1 §2.3.3). */
const P384_POINT_BYTES = 97;

/** A certificate in the path with the name of the field it came from. */
export interface PathCert {
  cert: Certificate;
  path: string;
  /** Present for CA certificates (cabundle entries and anchors), which are cached. */
  entry: CachedCertificate | undefined;
}

/** A trust anchor as the chain code needs it. */
export interface ResolvedAnchor {
  anchor: TrustAnchor;
  entry: CachedCertificate;
}

/** A path from an anchor (first) to the leaf (last) whose structure has been checked. */
export interface CheckedPath {
  anchor: TrustAnchor;
  certs: PathCert[];
}

function label(p: PathCert): string {
  return `certificate '${commonName(p.cert.subject)}' (${p.path})`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Builds the path and runs every check but the signatures: anchor, name chaining, CA flags, key
 * usage, path lengths, algorithms, critical extensions and validity at `at`.
 */
export function checkPath(
  leaf: Certificate,
  cabundle: Uint8Array[],
  anchors: ResolvedAnchor[],
  at: number,
  cache: ChainCacheInternal,
): CheckedPath {
  const bundle: PathCert[] = cabundle.map((der, i) => {
    const path = `payload.cabundle.${i}`;
    const entry = cache.certificate(der, path);
    return { cert: entry.cert, path, entry };
  });
  const top = bundle[0]!;
  let anchor: ResolvedAnchor | undefined = anchors.find((a) => a.entry === top.entry);
  let below = bundle.slice(1);
  let root: PathCert = top;
  if (anchor === undefined) {
    if (bytesEqual(top.cert.issuer, top.cert.subject)) {
      // A self-issued root: trusted only when it has an anchor's name and key (the same root,
      // encoded differently); then the anchor's own certificate stands in for it.
      anchor = anchors.find(
        (a) =>
          bytesEqual(a.entry.cert.subject, top.cert.subject) &&
          bytesEqual(a.entry.cert.spki, top.cert.spki),
      );
      if (anchor === undefined) untrusted(top, anchors);
      root = { cert: anchor.entry.cert, path: top.path, entry: anchor.entry };
    } else {
      // cabundle[0] is not a root: an anchor must have issued it, and heads the path.
      anchor = anchors.find((a) => bytesEqual(a.entry.cert.subject, top.cert.issuer));
      if (anchor === undefined) untrusted(top, anchors);
      root = {
        cert: anchor.entry.cert,
        path: `trustAnchors.${anchor.anchor.name}`,
        entry: anchor.entry,
      };
      below = bundle;
    }
  }
  const certs: PathCert[] = [
    root,
    ...below,
    { cert: leaf, path: 'payload.certificate', entry: undefined },
  ];
  const last = certs.length - 1;

  // RFC 5280 §6.1.3 (a)(4): each certificate's issuer is the previous certificate's subject.
  for (let i = 1; i <= last; i++) {
    const child = certs[i]!;
    const parent = certs[i - 1]!;
    if (!bytesEqual(child.cert.issuer, parent.cert.subject))
      fail(
        'CHAIN_BROKEN',
        `${label(child)} names issuer '${commonName(child.cert.issuer)}', but the next certificate up is '${commonName(parent.cert.subject)}'`,
        child.path,
      );
  }
  for (let i = 0; i < last; i++) checkIssuer(certs[i]!, last - 1 - i);
  for (let i = 1; i <= last; i++) {
    const c = certs[i]!;
    // The Nitro PKI signs every certificate with ecdsa-with-SHA384 (RFC 5758 §3.2).
    if (c.cert.signatureAlgorithm !== OID.ecdsaWithSha384)
      fail(
        'CERT_UNSUPPORTED_ALGORITHM',
        `${label(c)} is signed with algorithm ${c.cert.signatureAlgorithm}; only ecdsa-with-SHA384 is accepted`,
        c.path,
      );
  }
  checkLeaf(certs[last]!);
  for (const c of certs) checkExtensions(c);
  for (const c of certs) checkValidity(c, at);
  return { anchor: anchor.anchor, certs };
}

function untrusted(top: PathCert, anchors: ResolvedAnchor[]): never {
  const names = anchors.map((a) => a.anchor.name).join(', ');
  const twin = anchors.find((a) => bytesEqual(a.entry.cert.subject, top.cert.subject));
  return fail(
    'CHAIN_UNTRUSTED_ROOT',
    twin !== undefined
      ? `the chain's root '${commonName(top.cert.subject)}' has the name of trust anchor ${twin.anchor.name} but not its key: it is a different root`
      : `the chain ends in '${commonName(top.cert.issuer)}', which is not a trusted root (trusted: ${names})`,
    top.path,
  );
}

/** CA checks for a certificate that issues the next one (§3.2.3.2-§3.2.3.3, RFC 5280 §4.2.1.9). */
function checkIssuer(c: PathCert, intermediatesBelow: number): void {
  const bc = c.cert.basicConstraints;
  if (bc === undefined || !bc.ca)
    fail(
      'CERT_NOT_CA',
      `${label(c)} issues a certificate but is not a CA (basicConstraints cA is not set)`,
      c.path,
    );
  const ku = c.cert.keyUsage;
  // RFC 5280 §4.2.1.3: CA certificates include keyUsage; keyCertSign is what lets them issue.
  if (ku === undefined || (ku.bits & KEY_USAGE.keyCertSign) === 0)
    fail(
      'CERT_KEY_USAGE',
      `${label(c)} issues a certificate but its keyUsage lacks keyCertSign`,
      c.path,
    );
  // §3.2.3.2: pathLenConstraint bounds the CA certificates that may follow. Every intermediate is
  // counted, self-issued or not (stricter than RFC 5280 §6.1.4 (l); the Nitro PKI has none).
  if (bc.pathLen !== undefined && intermediatesBelow > bc.pathLen)
    fail(
      'CERT_PATH_LENGTH',
      `${label(c)} allows ${bc.pathLen} CA certificates below it (pathLenConstraint), but ${intermediatesBelow} follow`,
      c.path,
    );
  checkKey(c, 'issuer');
}

function checkLeaf(c: PathCert): void {
  // §3.2.3.3: the target certificate is not a CA and has digitalSignature.
  if (c.cert.basicConstraints?.ca === true)
    fail('CERT_LEAF_IS_CA', `${label(c)} signs the document but claims to be a CA`, c.path);
  const ku = c.cert.keyUsage;
  if (ku === undefined || (ku.bits & KEY_USAGE.digitalSignature) === 0)
    fail(
      'CERT_KEY_USAGE',
      `${label(c)} signs the document but its keyUsage lacks digitalSignature`,
      c.path,
    );
  checkKey(c, 'leaf');
}

function checkKey(c: PathCert, role: string): void {
  const k = c.cert;
  if (k.keyAlgorithm !== OID.ecPublicKey || k.namedCurve !== OID.secp384r1)
    fail('CERT_UNSUPPORTED_KEY', `${label(c)} (${role}) does not have an EC P-384 key`, c.path);
  if (k.publicKey.length !== P384_POINT_BYTES || k.publicKey[0] !== 0x04)
    fail(
      'CERT_UNSUPPORTED_KEY',
      `${label(c)} (${role}) has a P-384 key that is not an uncompressed point`,
      c.path,
    );
}

function checkExtensions(c: PathCert): void {
  // RFC 5280 §4.2: a critical extension that is not processed makes the certificate invalid.
  for (const e of c.cert.extensions)
    if (e.critical && e.oid !== OID.basicConstraints && e.oid !== OID.keyUsage)
      fail(
        'CERT_UNKNOWN_CRITICAL_EXTENSION',
        `${label(c)} has a critical extension ${e.oid} that is not understood`,
        c.path,
      );
}

function checkValidity(c: PathCert, at: number): void {
  // §3.2.3.1 and RFC 5280 §4.1.2.5: notBefore <= at <= notAfter, both inclusive; anchors too.
  if (at < c.cert.notBefore)
    fail(
      'CERT_NOT_YET_VALID',
      `${label(c)} is valid from ${iso(c.cert.notBefore)}; checked at ${iso(at)}`,
      c.path,
    );
  if (at > c.cert.notAfter)
    fail(
      'CERT_EXPIRED',
      `${label(c)} expired at ${iso(c.cert.notAfter)}; checked at ${iso(at)}`,
      c.path,
    );
}

/** Imports the key of `c` once per verifier (cached on CA entries); typed error on a bad point. */
export function importKey(c: PathCert, verifier: SignatureVerifier): Promise<unknown> {
  const cached = c.entry?.keys.get(verifier);
  if (cached !== undefined) return cached;
  const p = verifier
    .importP384Key(c.cert.spki, c.cert.publicKey)
    .catch((e: unknown) =>
      fail('CERT_MALFORMED', `the public key of ${label(c)} is not a valid P-384 point`, c.path, e),
    );
  if (c.entry !== undefined) {
    c.entry.keys.set(verifier, p);
    // A bad point stays bad; keep the rejection but do not report it as unhandled here.
    p.catch(() => undefined);
  }
  return p;
}

/**
 * Verifies every certificate signature of the path concurrently; resolves, or rejects with the
 * first failure in path order. Verified links between CA certificates are remembered in the cache.
 */
export async function checkSignatures(
  path: CheckedPath,
  verifier: SignatureVerifier,
): Promise<void> {
  const tasks: Array<Promise<boolean>> = [];
  const certs = path.certs;
  for (let i = 1; i < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i - 1]!;
    if (child.entry !== undefined && child.entry.verifiedBy.has(parent.entry!)) {
      tasks.push(Promise.resolve(true));
      continue;
    }
    tasks.push(
      importKey(parent, verifier).then((key) =>
        verifier.verifyP384Sha384(key, child.cert.signature, child.cert.tbs),
      ),
    );
  }
  const settled = await Promise.allSettled(tasks);
  for (let i = 1; i < certs.length; i++) {
    const r = settled[i - 1]!;
    if (r.status === 'rejected') throw r.reason;
    const child = certs[i]!;
    if (!r.value)
      fail(
        'CHAIN_SIGNATURE_INVALID',
        `the signature of ${label(child)} does not verify with its issuer's key`,
        child.path,
      );
    if (child.entry !== undefined) child.entry.verifiedBy.add(certs[i - 1]!.entry!);
  }
}
