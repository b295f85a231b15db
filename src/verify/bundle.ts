/**
 * Verification of one bundle against a trust policy. Pure (browser-capable): Web Crypto for
 * hashes, time and trust anchors as parameters. The checks run in a fixed order and each refusal
 * has its own code, so that a user can tell what was wrong from the code alone.
 */
import { ArchiveError } from '../archive/index.js';
import type { BundleContents } from '../bundle/index.js';
import { BundleError, readBundle } from '../bundle/index.js';
import { TeeCompileError } from '../errors.js';
import { normalizeRepositoryUrl, parseStatement } from '../provenance/index.js';
import type { ProvenanceStatement } from '../provenance/index.js';
import { toHex } from '../util/hex.js';
import { checkAttestation, pcrHex } from './attestation-check.js';
import { checkOrigin } from './origin.js';
import type { OriginFacts } from './origin-types.js';
import { sha256Hex } from './digest.js';
import { checkEnvelope } from './envelope-check.js';
import { VerifyError, isVerifyError } from './errors.js';
import { sameCommit, sameRepository } from './source.js';
import type {
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

/** Reads a bundle source, turning archive and layout refusals into BUNDLE_MALFORMED. */
export async function readBundleSource(
  source: BundleSource,
  opts: Pick<VerifyOptions, 'limits'>,
): Promise<BundleContents | Refused> {
  if (isBundleContents(source)) return source;
  try {
    return await readBundle(source, opts.limits);
  } catch (e) {
    if (!(e instanceof ArchiveError) && !(e instanceof BundleError)) throw e;
    const r: Refused = {
      ok: false,
      code: 'BUNDLE_MALFORMED',
      message: `not a valid bundle: ${e.message}`,
      reason: e.code,
    };
    if (e.path !== undefined) r.path = e.path;
    return r;
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

async function checkSubjects(
  st: ProvenanceStatement,
  artifacts: Map<string, Uint8Array>,
): Promise<void> {
  const names = new Set<string>();
  for (const [i, s] of st.subject.entries()) {
    names.add(s.name);
    const bytes = artifacts.get(s.name);
    if (bytes === undefined) {
      throw new VerifyError(
        'SUBJECT_MISSING',
        `subject ${s.name} has no artifact in the bundle (artifacts/${s.name})`,
        { path: `subject.${i}` },
      );
    }
    const got = await sha256Hex(bytes);
    if (got !== s.digest.sha256.toLowerCase()) {
      throw new VerifyError(
        'SUBJECT_DIGEST_MISMATCH',
        `artifacts/${s.name} has sha256 ${got}, the provenance says ${s.digest.sha256}`,
        { path: `subject.${i}.digest.sha256` },
      );
    }
  }
  for (const name of artifacts.keys()) {
    if (!names.has(name)) {
      throw new VerifyError(
        'ARTIFACT_UNEXPECTED',
        `artifacts/${name} is in the bundle but is not a subject of the provenance`,
        { path: `artifacts/${name}` },
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

function parse(bytes: Uint8Array): ProvenanceStatement {
  try {
    return parseStatement(bytes);
  } catch (e) {
    if (!(e instanceof TeeCompileError)) throw e;
    const opts: { path?: string; cause: unknown } = { cause: e };
    if (e.path !== undefined) opts.path = e.path;
    throw new VerifyError('PROVENANCE_INVALID', `provenance.json: ${e.message}`, opts);
  }
}

async function verifyContents(
  contents: BundleContents,
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

  const st = parse(contents.provenance);
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

  await checkSubjects(st, contents.artifacts);
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

/**
 * Verifies one bundle against `policy` at the verifier's clock `opts.now`: the archive, the
 * attestation (anchored in the AWS Nitro root, plus the simulation root only with allowSimulated),
 * the image and builder measurements, the statement, the nonce, every artifact's digest and the
 * source. Returns the verified facts or the first refusal with its code; never throws for bad
 * input.
 */
export async function verifyBundle(
  source: BundleSource,
  policy: TrustPolicy,
  opts: VerifyOptions,
): Promise<BundleVerification> {
  const contents = await readBundleSource(source, opts);
  if ('ok' in contents) return contents;
  const seen: AttestedFacts = {};
  try {
    return await verifyContents(contents, policy, opts, seen);
  } catch (e) {
    return refusal(e, seen);
  }
}
