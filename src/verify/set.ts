/**
 * k-of-n verification: every bundle is verified alone, then the verified ones are grouped by their
 * outputs (the set of subject names and digests), and the set passes when one group holds at least
 * `minBuilders` distinct trusted builders for one source commit. Pure.
 */
import { ArchiveError } from '../archive/index.js';
import { BundleError, compareBytewise, readArtifacts } from '../bundle/index.js';
import { bundleStream, isBundleContents, verifyBundleDetailed } from './bundle.js';
import {
  MAJORITY_LABELS,
  MAX_DETAILED_FILES,
  MAX_TEXT_DIFF_BYTES,
  fileDifferences,
} from './diff.js';
import type {
  BundleSource,
  BundleVerified,
  NamedBundle,
  SetVerification,
  TrustPolicy,
  VerifySetOptions,
} from './types.js';
import type { VerifyErrorCode } from './errors.js';

interface Verified {
  bundle: string;
  result: BundleVerified;
  source: BundleSource;
  sizes: Map<string, number>;
}

interface Group {
  key: string;
  members: Verified[];
  /** Distinct builders by PCR3, in order of appearance. */
  builders: Map<string, string>;
}

/** How a builder is named in results: the policy's name, else its PCR3. */
export function builderLabel(r: Pick<BundleVerified, 'builder'>): string {
  return r.builder.name ?? r.builder.pcr3;
}

function outputsKey(r: BundleVerified): string {
  return r.subjects
    .map((s) => `${s.name}\0${s.sha256}`)
    .sort(compareBytewise)
    .join('\n');
}

function sourceKey(r: BundleVerified): string {
  return r.source.commit ?? `tree ${r.source.tree}`;
}

function groupsOf(verified: Verified[]): Group[] {
  const byKey = new Map<string, Group>();
  for (const v of verified) {
    const key = outputsKey(v.result);
    let g = byKey.get(key);
    if (g === undefined) {
      g = { key, members: [], builders: new Map() };
      byKey.set(key, g);
    }
    g.members.push(v);
    // One builder counts once, however many bundles it made.
    if (!g.builders.has(v.result.builder.pcr3)) {
      g.builders.set(v.result.builder.pcr3, builderLabel(v.result));
    }
  }
  // Most distinct builders first, then most bundles; ties keep the order of first appearance.
  return [...byKey.values()].sort(
    (x, y) => y.builders.size - x.builders.size || y.members.length - x.members.length,
  );
}

function summary(groups: Group[]): SetVerification['groups'] {
  return groups.map((g) => ({
    builders: [...g.builders.values()],
    subjects: g.members[0]!.result.subjects,
    bundles: g.members.map((m) => m.bundle),
  }));
}

/**
 * Verifies several bundles of one release against `policy` (k = `policy.minBuilders`): each alone
 * first (refused bundles are listed and do not count), then by agreement on identical outputs.
 * Refusals: NO_BUNDLES, SOURCE_DIVERGENT (verified bundles of different commits), OUTPUTS_CONFLICT
 * (two groups reach k with equal support), QUORUM_NOT_MET (the best group is below k, or groups
 * below k tie: no majority). The result names the agreeing and dissenting builders and, for each
 * dissenting bundle, the files that differ from the majority's (with no majority, the first
 * group's).
 */
export async function verifyBundles(
  bundles: readonly NamedBundle[],
  policy: TrustPolicy,
  opts: VerifySetOptions,
): Promise<SetVerification> {
  const result: SetVerification = {
    ok: false,
    message: '',
    groups: [],
    agreeing: [],
    dissenting: [],
    majority: false,
    differences: [],
    bundles: [],
    simulated: false,
    warnings: [],
  };
  if (bundles.length === 0) {
    return { ...result, code: 'NO_BUNDLES', message: 'no bundle to verify' };
  }
  const verified: Verified[] = [];
  for (const b of bundles) {
    // Each bundle is read once, as a stream; nothing of its artifacts is kept.
    const { result: r, sizes } = await verifyBundleDetailed(b.source, policy, opts);
    result.bundles.push({ bundle: b.name, result: r });
    if (r.ok) verified.push({ bundle: b.name, result: r, source: b.source, sizes });
  }
  result.simulated = verified.some((v) => v.result.simulated);
  if (policy.builders === undefined && policy.minBuilders > 1) {
    result.warnings.push(
      'the policy lists no trusted builders: any PCR3 counts as a builder, so agreement shows reproducibility, not independence',
    );
  }
  const failed = bundles.length - verified.length;
  const refusedNote = failed > 0 ? ` (${failed} of ${bundles.length} bundles refused)` : '';

  const sources = new Map<string, string[]>();
  for (const v of verified) {
    const k = sourceKey(v.result);
    sources.set(k, [...(sources.get(k) ?? []), v.bundle]);
  }
  const groups = groupsOf(verified);
  result.groups = summary(groups);
  if (sources.size > 1) {
    const list = [...sources].map(([k, b]) => `${k} (${b.join(', ')})`).join('; ');
    return fail(
      result,
      'SOURCE_DIVERGENT',
      `the bundles were built from different sources: ${list}`,
    );
  }

  const k = policy.minBuilders;
  const top = groups[0];
  if (top === undefined) {
    return fail(
      result,
      'QUORUM_NOT_MET',
      `no bundle verified${refusedNote}; ${k} trusted builders must agree`,
    );
  }
  // Support is the number of distinct builders. When the first groups tie, none is the majority:
  // nobody agrees, every builder dissents, and the others are compared with the first group.
  const second = groups[1];
  const tied = second !== undefined && second.builders.size === top.builders.size;
  const others = groups.slice(1);
  result.majority = !tied;
  result.agreeing = tied ? [] : [...top.builders.values()];
  result.dissenting = unique((tied ? groups : others).flatMap((g) => [...g.builders.values()]));
  result.differences = await differences(top, others, !tied, opts);

  if (tied && top.builders.size >= k) {
    return fail(
      result,
      'OUTPUTS_CONFLICT',
      `no majority: ${top.builders.size} builders (${[...top.builders.values()].join(', ')}) and ${second.builders.size} builders (${[...second.builders.values()].join(', ')}) produced different outputs with equal support`,
    );
  }
  if (tied) {
    const level = groups.filter((g) => g.builders.size === top.builders.size).length;
    const n = top.builders.size;
    return fail(
      result,
      'QUORUM_NOT_MET',
      `no majority: ${level} groups of ${n} distinct trusted builder${n === 1 ? '' : 's'} each produced different outputs, ${k} required${refusedNote}`,
    );
  }
  if (top.builders.size < k) {
    return fail(
      result,
      'QUORUM_NOT_MET',
      `${top.builders.size} distinct trusted builder${top.builders.size === 1 ? '' : 's'} agree, ${k} required${refusedNote}`,
    );
  }
  result.ok = true;
  result.message = `${top.builders.size} distinct builder${top.builders.size === 1 ? '' : 's'} agree on identical outputs (${k} required)${
    others.length > 0 ? `; ${result.dissenting.length} dissent` : ''
  }${refusedNote}`;
  return result;
}

function fail(r: SetVerification, code: VerifyErrorCode, message: string): SetVerification {
  return { ...r, ok: false, code, message };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Largest artifact read back for a difference summary or a deep comparison. */
export const MAX_COMPARED_ARTIFACT_BYTES = MAX_TEXT_DIFF_BYTES;

/** The first MAX_DETAILED_FILES paths both sides have with different digests. */
function detailedPaths(a: BundleVerified, b: BundleVerified): Set<string> {
  const da = new Map(a.subjects.map((s) => [s.name, s.sha256]));
  const paths = b.subjects
    .filter((s) => da.has(s.name) && da.get(s.name) !== s.sha256)
    .map((s) => s.name)
    .sort(compareBytewise);
  return new Set(paths.slice(0, MAX_DETAILED_FILES));
}

/**
 * The artifacts `wanted` of a verified bundle, read back when its source can be read again (bytes,
 * a file, contents in memory); each at most MAX_COMPARED_ARTIFACT_BYTES, so that a difference
 * report stays bounded. A one-shot stream gives none: the report then has digests and sizes only.
 */
async function artifactsFor(
  v: Verified,
  wanted: ReadonlySet<string>,
  opts: VerifySetOptions,
): Promise<Map<string, Uint8Array>> {
  const src = v.source;
  if (isBundleContents(src)) {
    return new Map(
      [...wanted].flatMap((n) => {
        const b = src.artifacts.get(n);
        return b !== undefined && b.length <= MAX_COMPARED_ARTIFACT_BYTES ? [[n, b] as const] : [];
      }),
    );
  }
  if (!(src instanceof Uint8Array) && typeof (src as { open?: unknown }).open !== 'function')
    return new Map();
  try {
    return await readArtifacts(bundleStream(src), wanted, MAX_COMPARED_ARTIFACT_BYTES, opts.limits);
  } catch (e) {
    // It verified a moment ago: a file changed under us. The report goes on without its bytes.
    if (e instanceof ArchiveError || e instanceof BundleError) return new Map();
    throw e;
  }
}

/**
 * Compares each other group's outputs once with the first group's (the majority's, or with no
 * majority just the first), and reports it for each of its bundles.
 */
async function differences(
  top: Group,
  others: Group[],
  majority: boolean,
  opts: VerifySetOptions,
): Promise<SetVerification['differences']> {
  const ref = top.members[0]!;
  const out: SetVerification['differences'] = [];
  for (const [i, g] of others.entries()) {
    const rep = g.members[0]!;
    const wanted = detailedPaths(ref.result, rep.result);
    const files = await fileDifferences(
      {
        subjects: ref.result.subjects,
        artifacts: await artifactsFor(ref, wanted, opts),
        sizes: ref.sizes,
      },
      {
        subjects: rep.result.subjects,
        artifacts: await artifactsFor(rep, wanted, opts),
        sizes: rep.sizes,
      },
      opts.compare,
      majority ? MAJORITY_LABELS : { reference: 'group 1', sides: ['group-1', `group-${i + 2}`] },
    );
    for (const m of g.members) {
      out.push({ bundle: m.bundle, builder: builderLabel(m.result), files });
    }
  }
  return out;
}
