/**
 * Verification of one bundle against a trust policy. Pure (browser-capable): Web Crypto for
 * hashes, time and trust anchors as parameters. The checks run in a fixed order and each refusal
 * has its own code, so that a user can tell what was wrong from the code alone.
 */
import { ArchiveError } from '../archive/index.js';
import type { BundleContents, BundleFixedFields } from '../bundle/index.js';
import { BundleError, readBundle, readBundleMembers } from '../bundle/index.js';
import { normalizeRepositoryUrl } from '../provenance/index.js';
import type { ProvenanceStatement } from '../provenance/index.js';
import { collect } from '../util/bytes.js';
import { toHex } from '../util/hex.js';
import { createSha256 } from '../util/stream-digest.js';
import { checkAttestation, pcrHex } from './attestation-check.js';
import { checkOrigin } from './origin.js';
import type { OriginFacts } from './origin-types.js';
import { sha256Hex } from './digest.js';
import { checkEnvelope } from './envelope-check.js';
import { VerifyError, isVerifyError } from './errors.js';
import { parseProvenance } from './provenance-bound.js';
import { sameCommit, sameRepository } from './source.js';
import type {
  BundleFile,
  BundleSource,
  BundleVerification,
  BundleVerified,
  Refused,
  TrustPolicy,
  TrustedBuilder,
  TrustedImage,
  VerifyOptions,
} from './types.js';

/** What the attestation step established, kept for the refusals that follow it. */
type AttestedFacts = Pick<Refused, 'simulated' | 'debug'>;

interface Measurements {
  pcr0: string;
  pcr1: string;
  pcr2: string;
}

/** True when `source` is a bundle already read into memory. */
export function isBundleContents(source: BundleSource): source is BundleContents {
  return (
    !(source instanceof Uint8Array) &&
    typeof (source as Partial<BundleContents>).provenance === 'object' &&
    (source as Partial<BundleContents>).artifacts instanceof Map
  );
}

/** True when `source` is a bundle that can be read again from its start (e.g. a file). */
export function isBundleFile(source: BundleSource): source is BundleFile {
  return typeof (source as Partial<BundleFile>).open === 'function';
}

/** The bytes of a bundle source, as a stream read from the start. */
export function bundleStream(
  source: Exclude<BundleSource, BundleContents>,
): Uint8Array | AsyncIterable<Uint8Array> {
  return isBundleFile(source) ? source.open() : source;
}

/**
 * A refusal of the bundle's form: BUNDLE_NONCANONICAL when it is not exactly what the writer
 * emits, otherwise BUNDLE_MALFORMED with the archive's or the layout's code as `reason`.
 */
export function malformed(e: ArchiveError | BundleError): Refused {
  const r: Refused =
    e.code === 'BUNDLE_NONCANONICAL'
      ? { ok: false, code: 'BUNDLE_NONCANONICAL', message: `not a canonical bundle: ${e.message}` }
      : {
          ok: false,
          code: 'BUNDLE_MALFORMED',
          message: `not a valid bundle: ${e.message}`,
          reason: e.code,
        };
  if (e.path !== undefined) r.path = e.path;
  return r;
}

/** Reads a bundle source into memory, turning archive and layout refusals into a refusal. */
export async function readBundleSource(
  source: BundleSource,
  opts: Pick<VerifyOptions, 'limits'>,
): Promise<BundleContents | Refused> {
  if (isBundleContents(source)) return source;
  try {
    return await readBundle(bundleStream(source), opts.limits);
  } catch (e) {
    if (!(e instanceof ArchiveError) && !(e instanceof BundleError)) throw e;
    return malformed(e);
  }
}

function same(a: Measurements, b: Measurements): boolean {
  return (
    a.pcr0.toLowerCase() === b.pcr0.toLowerCase() &&
    a.pcr1.toLowerCase() === b.pcr1.toLowerCase() &&
    a.pcr2.toLowerCase() === b.pcr2.toLowerCase()
  );
}

/** Trusted images whose measurements (real, or simulated for simulated documents) are `m`. */
function trustedImagesFor(
  images: readonly TrustedImage[],
  m: Measurements,
  simulated: boolean,
): TrustedImage[] {
  return images.filter((img) => {
    if (simulated) return img.simulated !== undefined && same(img.simulated, m);
    if (img.pcr0 === null || img.pcr1 === null || img.pcr2 === null) return false;
    return same({ pcr0: img.pcr0, pcr1: img.pcr1, pcr2: img.pcr2 }, m);
  });
}

function checkSubjectNames(st: ProvenanceStatement): void {
  const seen = new Set<string>();
  st.subject.forEach((s, i) => {
    if (seen.has(s.name)) {
      throw new VerifyError('PROVENANCE_INVALID', `subject ${s.name} is listed twice`, {
        path: `subject.${i}.name`,
      });
    }
    seen.add(s.name);
  });
}

/** A subject's artifact as found in the bundle: its digest and size. */
interface Found {
  sha256: string;
  size: number;
}

function subjectIndex(st: ProvenanceStatement): Map<string, number> {
  return new Map(st.subject.map((s, i) => [s.name, i]));
}

function unexpectedArtifact(name: string): VerifyError {
  return new VerifyError(
    'ARTIFACT_UNEXPECTED',
    `artifacts/${name} is in the bundle but is not a subject of the provenance`,
    { path: `artifacts/${name}` },
  );
}

function checkDigest(st: ProvenanceStatement, i: number, got: string): void {
  const s = st.subject[i]!;
  if (got !== s.digest.sha256.toLowerCase()) {
    throw new VerifyError(
      'SUBJECT_DIGEST_MISMATCH',
      `artifacts/${s.name} has sha256 ${got}, the provenance says ${s.digest.sha256}`,
      { path: `subject.${i}.digest.sha256` },
    );
  }
}

function checkAllFound(st: ProvenanceStatement, found: ReadonlyMap<string, Found>): void {
  for (const [i, s] of st.subject.entries()) {
    if (!found.has(s.name)) {
      throw new VerifyError(
        'SUBJECT_MISSING',
        `subject ${s.name} has no artifact in the bundle (artifacts/${s.name})`,
        { path: `subject.${i}` },
      );
    }
  }
}

function checkSource(st: ProvenanceStatement, policy: TrustPolicy, origin: OriginFacts): void {
  // With a verified workflow token, the repository is the token's, not the provenance's label.
  const src = {
    ...st.predicate.buildDefinition.externalParameters.source,
    repository: origin.repository.url,
  };
  const want = policy.source;
  if (
    want?.commit !== undefined &&
    (src.gitCommit === null || !sameCommit(src.gitCommit, want.commit))
  ) {
    throw new VerifyError(
      'COMMIT_MISMATCH',
      `built from commit ${src.gitCommit ?? '(none: a tree without a commit)'}, expected ${want.commit}`,
      { path: 'predicate.buildDefinition.externalParameters.source.gitCommit' },
    );
  }
  if (
    want?.repository !== undefined &&
    (src.repository === null || !sameRepository(src.repository, want.repository))
  ) {
    throw new VerifyError(
      'REPOSITORY_MISMATCH',
      `built from repository ${src.repository ?? '(unknown)'}, expected ${want.repository}`,
      { path: 'predicate.buildDefinition.externalParameters.source.repository' },
    );
  }
}

/**
 * Every check that needs only provenance.json and attestation.cbor (they come first in a bundle):
 * attestation, image, builder, PCRs, statement, nonce, source. Returns the result to give once the
 * artifacts have been checked against its subjects.
 */
async function checkHead(
  contents: Pick<BundleFixedFields, 'provenance' | 'attestation' | 'envelope'>,
  policy: TrustPolicy,
  opts: VerifyOptions,
  seen: AttestedFacts,
): Promise<BundleVerified> {
  const { document, simulated, debug } = await checkAttestation(contents, policy, opts, seen);
  // A refusal from here on is still reported SIMULATED or DEBUG.
  Object.assign(seen, { simulated, debug });
  const attested: Measurements = {
    pcr0: pcrHex(document, 0),
    pcr1: pcrHex(document, 1),
    pcr2: pcrHex(document, 2),
  };

  // A debug-mode enclave reports PCR0-2 as zero: nothing about its image is measured, so there is
  // nothing to match (allowDebug says the caller accepts that).
  const candidates = debug ? [] : trustedImagesFor(policy.images, attested, simulated);
  if (!debug && candidates.length === 0) {
    throw new VerifyError(
      'IMAGE_UNTRUSTED',
      `the attested PCR0/1/2 are not those of a trusted image${simulated ? ' (simulated measurements)' : ''}: PCR0 ${attested.pcr0}`,
      { path: 'attestation.pcrs.0' },
    );
  }

  const pcr3 = pcrHex(document, 3);
  let builderName: string | null = null;
  let trustedBuilder: TrustedBuilder | undefined;
  if (policy.builders !== undefined) {
    const b = policy.builders.find((x) => x.pcr3.toLowerCase() === pcr3);
    trustedBuilder = b;
    if (b === undefined) {
      throw new VerifyError(
        'BUILDER_UNTRUSTED',
        `the builder (PCR3 ${pcr3 || 'absent'}) is not one of the ${policy.builders.length} trusted builders`,
        { path: 'attestation.pcrs.3' },
      );
    }
    builderName = b.name;
  }

  for (const [i, want] of policy.pcrs ?? []) {
    const got = pcrHex(document, i);
    if (got !== want.toLowerCase()) {
      throw new VerifyError('PCR_MISMATCH', `PCR${i} is ${got || 'absent'}, expected ${want}`, {
        path: `attestation.pcrs.${i}`,
      });
    }
  }

  const st = parseProvenance(contents.provenance);
  checkSubjectNames(st);
  const internal = st.predicate.buildDefinition.internalParameters;
  const claimed = internal.image;
  if (!debug) {
    const img = candidates.find((c) => c.name === claimed.name && c.version === claimed.version);
    if (img === undefined || !same(claimed, attested)) {
      throw new VerifyError(
        'IMAGE_MISMATCH',
        `the provenance names image ${claimed.name} ${claimed.version} (PCR0 ${claimed.pcr0}) but the attestation measured ${candidates
          .map((c) => `${c.name} ${c.version}`)
          .join(', ')} (PCR0 ${attested.pcr0})`,
        { path: 'predicate.buildDefinition.internalParameters.image' },
      );
    }
  }

  const attNonce = document.nonce === null ? '' : toHex(document.nonce);
  if (internal.nonce.toLowerCase() !== attNonce) {
    throw new VerifyError(
      'NONCE_DIFFERS',
      `the provenance's nonce ${internal.nonce || '(empty)'} differs from the attested nonce ${attNonce || '(none)'}`,
      { path: 'predicate.buildDefinition.internalParameters.nonce' },
    );
  }

  const origin = await checkOrigin(st, policy, opts, document.timestamp);
  checkSource(st, policy, origin);
  const signature = await checkEnvelope(contents, document, policy, trustedBuilder);

  const src = st.predicate.buildDefinition.externalParameters.source;
  return {
    ok: true,
    simulated,
    debug,
    subjects: st.subject.map((s) => ({ name: s.name, sha256: s.digest.sha256.toLowerCase() })),
    source: {
      repository:
        origin.repository.url === null
          ? null
          : (normalizeRepositoryUrl(origin.repository.url) ?? origin.repository.url),
      commit: src.gitCommit === null ? null : src.gitCommit.toLowerCase(),
      tree: src.gitTree.toLowerCase(),
    },
    image: { name: claimed.name, version: claimed.version, ...attested },
    builder: { pcr3, name: builderName },
    signature,
    nonce: attNonce === '' ? null : attNonce,
    timestamp: document.timestamp,
    statement: st,
    document,
    origin,
  };
}

/** Turns our own errors into a refusal; anything else is a bug and propagates. */
function refusal(e: unknown, seen: AttestedFacts): Refused {
  if (!isVerifyError(e)) throw e;
  const r: Refused = { ok: false, code: e.code, message: e.message, ...seen };
  if (e.path !== undefined) r.path = e.path;
  return r;
}

/** A verification with the size of each artifact found (for difference reports). */
export interface DetailedVerification {
  result: BundleVerification;
  sizes: Map<string, number>;
}

async function verifyContents(
  contents: BundleContents,
  policy: TrustPolicy,
  opts: VerifyOptions,
): Promise<DetailedVerification> {
  const sizes = new Map<string, number>();
  const seen: AttestedFacts = {};
  try {
    const head = await checkHead(contents, policy, opts, seen);
    const index = subjectIndex(head.statement);
    const found = new Map<string, Found>();
    for (const [name, bytes] of contents.artifacts) {
      const i = index.get(name);
      if (i === undefined) throw unexpectedArtifact(name);
      const f = { sha256: await sha256Hex(bytes), size: bytes.length };
      checkDigest(head.statement, i, f.sha256);
      found.set(name, f);
      sizes.set(name, f.size);
    }
    checkAllFound(head.statement, found);
    return { result: head, sizes };
  } catch (e) {
    return { result: refusal(e, seen), sizes };
  }
}

/**
 * Verifies a bundle read once, as a stream: provenance.json and attestation.cbor (bounded) are
 * read first and every check that needs only them runs before any artifact is read; each artifact
 * is then refused at its header when it is not a subject (or over its size bound), and hashed as
 * it streams by. Nothing but those two members is held in memory.
 */
async function verifyStream(
  stream: Uint8Array | AsyncIterable<Uint8Array>,
  policy: TrustPolicy,
  opts: VerifyOptions,
): Promise<DetailedVerification> {
  const sizes = new Map<string, number>();
  const fixed: Partial<BundleFixedFields> = {};
  let head: BundleVerified | null = null;
  let index = new Map<string, number>();
  const found = new Map<string, Found>();
  const seen: AttestedFacts = {};
  const headNow = async (): Promise<BundleVerified> => {
    // The reader has refused a bundle without them before any artifact or the end.
    head ??= await checkHead(fixed as BundleFixedFields, policy, opts, seen);
    index = subjectIndex(head.statement);
    return head;
  };
  try {
    for await (const m of readBundleMembers(stream, opts.limits)) {
      if (m.kind === 'fixed') {
        // The log is not needed to verify: it streams by, bounded, and is not kept.
        if (m.member.field === 'log') for await (const _ of m.body) void _;
        else fixed[m.member.field] = await collect(m.body);
        continue;
      }
      const h = await headNow();
      const i = index.get(m.name);
      if (i === undefined) throw unexpectedArtifact(m.name);
      const hash = createSha256();
      for await (const c of m.body) hash.update(c);
      const f = { sha256: toHex(hash.digest()), size: m.size };
      checkDigest(h.statement, i, f.sha256);
      found.set(m.name, f);
      sizes.set(m.name, m.size);
    }
    const h = await headNow();
    checkAllFound(h.statement, found);
    return { result: h, sizes };
  } catch (e) {
    if (e instanceof ArchiveError || e instanceof BundleError) {
      // A refusal still says SIMULATED or DEBUG when the attestation (it comes first) says so,
      // also when the reader refused a member before the head was checked.
      if (head === null && fixed.provenance !== undefined && fixed.attestation !== undefined)
        await checkHead(fixed as BundleFixedFields, policy, opts, seen).catch(() => undefined);
      return { result: { ...malformed(e), ...seen }, sizes };
    }
    return { result: refusal(e, seen), sizes };
  }
}

/** `verifyBundle` with the sizes of the artifacts found. */
export async function verifyBundleDetailed(
  source: BundleSource,
  policy: TrustPolicy,
  opts: VerifyOptions,
): Promise<DetailedVerification> {
  if (isBundleContents(source)) return verifyContents(source, policy, opts);
  return verifyStream(bundleStream(source), policy, opts);
}

/**
 * Verifies one bundle against `policy` at the verifier's clock `opts.now`: the archive (exactly
 * the writer's canonical form), the attestation (anchored in the AWS Nitro root, plus the
 * simulation root only with allowSimulated), the image and builder measurements, the statement,
 * the nonce, the source and every artifact's digest. A bundle given as bytes, a stream or a file
 * is read once, as a stream, in bounded memory. Returns the verified facts or the first refusal
 * with its code; never throws for bad input.
 */
export async function verifyBundle(
  source: BundleSource,
  policy: TrustPolicy,
  opts: VerifyOptions,
): Promise<BundleVerification> {
  return (await verifyBundleDetailed(source, policy, opts)).result;
}
