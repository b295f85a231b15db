/**
 * Verification of an AWS Nitro attestation document (NSM API docs/attestation_process.md §3):
 * strict decoding, certificate path to a trust anchor at the document's own time, the COSE ES384
 * signature with the leaf key, then the caller's expectations. Never throws for a bad document:
 * refusals come back as `{ ok: false, code, path, message }`.
 */
import { toRefusal } from '../errors.js';
import { bytesEqual, toHex } from '../util/hex.js';
import { internalCache, type ChainCacheInternal } from './cache.js';
import { checkPath, checkSignatures, importKey, type ResolvedAnchor } from './chain.js';
import { sigStructure } from '../cose/index.js';
import { webCryptoVerifier, type SignatureVerifier } from './crypto.js';
import { MAX_TIMESTAMP_MS, decodeAttestationParts } from './document.js';
import { fail, isAttestationError } from './errors.js';
import { isDebugDocument } from './pcr.js';
import { AWS_NITRO_ROOT_G1 } from './roots.js';
import type {
  AttestationDocument,
  TrustAnchor,
  VerifyAttestationOptions,
  VerifyAttestationResult,
} from './types.js';
import { parseCertificate } from './x509.js';

interface Checked {
  anchors: ResolvedAnchor[];
  cache: ChainCacheInternal;
  verifier: SignatureVerifier;
}

function finiteTime(v: unknown, name: string): void {
  if (
    v !== undefined &&
    (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > MAX_TIMESTAMP_MS)
  )
    throw new TypeError(`${name} must be a time in milliseconds since the epoch`);
}

/** Caller mistakes are TypeErrors (they are bugs, not refusals of the document). */
function checkOptions(o: VerifyAttestationOptions): Checked {
  finiteTime(o.at, 'at');
  finiteTime(o.now, 'now');
  if (o.maxAgeSeconds !== undefined) {
    if (typeof o.maxAgeSeconds !== 'number' || !(o.maxAgeSeconds >= 0))
      throw new TypeError('maxAgeSeconds must be a non-negative number');
    if (o.now === undefined) throw new TypeError('maxAgeSeconds needs now (the verifier clock)');
  }
  if (o.clockToleranceMs !== undefined && !(o.clockToleranceMs >= 0))
    throw new TypeError('clockToleranceMs must be a non-negative number');
  for (const [i, v] of o.expectedPcrs ?? [])
    if (!Number.isInteger(i) || i < 0 || i > 31 || !(v instanceof Uint8Array))
      throw new TypeError(`expectedPcrs: entry ${i} must map an index 0..31 to bytes`);
  const trust: TrustAnchor[] = o.trustAnchors ?? [AWS_NITRO_ROOT_G1];
  if (!Array.isArray(trust) || trust.length === 0)
    throw new TypeError('trustAnchors must list at least one anchor');
  const cache = internalCache(o.cache);
  const anchors = trust.map((anchor) => {
    try {
      return { anchor, entry: cache.certificate(anchor.der, `trustAnchors.${anchor.name}`) };
    } catch (e) {
      if (isAttestationError(e))
        throw new TypeError(`trust anchor ${anchor.name}: ${e.message}`, { cause: e });
      throw e;
    }
  });
  return { anchors, cache, verifier: o.verifier ?? webCryptoVerifier };
}

/**
 * Verifies an AWS Nitro attestation document. Certificates are checked at `opts.at` or, by
 * default, at the document's own timestamp (leaves live ~3 h; stored documents keep verifying).
 * Returns the decoded document and the anchor it chains to, or a refusal with a code from
 * `ATTESTATION_ERROR_CODES`. Rejects only on caller mistakes (TypeError) and bugs.
 */
export async function verifyAttestation(
  bytes: Uint8Array,
  opts: VerifyAttestationOptions = {},
): Promise<VerifyAttestationResult> {
  if (!(bytes instanceof Uint8Array))
    throw new TypeError('verifyAttestation: bytes must be a Uint8Array');
  const checked = checkOptions(opts);
  try {
    return await verify(bytes, opts, checked);
  } catch (e) {
    return toRefusal(e, isAttestationError);
  }
}

async function verify(
  bytes: Uint8Array,
  opts: VerifyAttestationOptions,
  { anchors, cache, verifier }: Checked,
): Promise<VerifyAttestationResult> {
  const { cose, document } = decodeAttestationParts(bytes);
  const leaf = parseCertificate(document.certificate, 'payload.certificate');
  // NSM API docs/attestation_process.md §3.2.3.1 checks validity "now"; for stored evidence,
  // "now" is the moment the document was made.
  const at = opts.at ?? document.timestamp;
  const path = checkPath(leaf, document.cabundle, anchors, at, cache);

  // Every signature check starts now and runs concurrently; results are read in path order.
  const chainDone = checkSignatures(path, verifier);
  const coseDone = importKey(path.certs[path.certs.length - 1]!, verifier).then((key) =>
    verifier.verifyP384Sha384(key, cose.signature, sigStructure(cose.protectedBytes, cose.payload)),
  );
  coseDone.catch(() => undefined); // read below, after the chain; not an unhandled rejection
  await chainDone;
  // §3.2.1 / RFC 9052 §4.4: ES384 over ["Signature1", protected, h'', payload] as received.
  if (!(await coseDone))
    fail(
      'SIGNATURE_INVALID',
      'the document signature does not verify with the leaf certificate key',
      'signature',
    );

  const debug = isDebugDocument(document);
  checkExpectations(document, opts, debug);
  return { ok: true, document, trustAnchor: path.anchor, debug };
}

function hex(b: Uint8Array | null, max = 48): string {
  if (b === null) return 'null';
  const s = toHex(b.subarray(0, max));
  return b.length > max ? `${s}… (${b.length} bytes)` : s || '(empty)';
}

function checkExpectations(
  doc: AttestationDocument,
  o: VerifyAttestationOptions,
  debug: boolean,
): void {
  if (debug && o.allowDebug !== true)
    fail(
      'DEBUG_MODE',
      'the document comes from an enclave in debug mode (PCR0 is all zero), whose memory the host can read; allow debug documents explicitly to accept it',
      'payload.pcrs.0',
    );
  if (o.now !== undefined) {
    if (doc.timestamp > o.now + (o.clockToleranceMs ?? 0))
      fail(
        'DOCUMENT_FROM_FUTURE',
        `the document is dated ${new Date(doc.timestamp).toISOString()}, after the verifier's clock (${new Date(o.now).toISOString()})`,
        'payload.timestamp',
      );
    if (o.maxAgeSeconds !== undefined && o.now - doc.timestamp > o.maxAgeSeconds * 1000)
      fail(
        'DOCUMENT_TOO_OLD',
        `the document is ${Math.floor((o.now - doc.timestamp) / 1000)} s old; at most ${o.maxAgeSeconds} s is accepted`,
        'payload.timestamp',
      );
  }
  for (const [i, want] of o.expectedPcrs ?? []) {
    const got = doc.pcrs.get(i);
    if (got === undefined)
      fail(
        'PCR_MISMATCH',
        `PCR${i} is not in the document; expected ${hex(want)}`,
        `payload.pcrs.${i}`,
      );
    if (!bytesEqual(got, want))
      fail('PCR_MISMATCH', `PCR${i} is ${hex(got)}; expected ${hex(want)}`, `payload.pcrs.${i}`);
  }
  const fields = [
    ['nonce', 'NONCE_MISMATCH', o.expectedNonce, doc.nonce],
    ['user_data', 'USER_DATA_MISMATCH', o.expectedUserData, doc.userData],
    ['public_key', 'PUBLIC_KEY_MISMATCH', o.expectedPublicKey, doc.publicKey],
  ] as const;
  for (const [name, code, want, got] of fields) {
    if (want === undefined) continue;
    if (got === null || !bytesEqual(got, want))
      fail(code, `${name} is ${hex(got)}; expected ${hex(want)}`, `payload.${name}`);
  }
}
