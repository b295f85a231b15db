/**
 * What a reader sees on the run page and the commit's checks: who built what, from which source,
 * in which measured image, whether it verified, where it went, and the commands to check it
 * yourself. Pure: data in, Markdown out.
 */
import type { BundleVerified, SetVerification } from '../verify/index.js';
import { builderLabel, releaseAssetUrl, verifyPageLink } from '../verify/index.js';
import type { RepoRef } from './context.js';
import { code, preformatted, shell, shellQuote, table, text } from './markdown.js';
import type { AssetOutcome } from './release.js';

const SIMULATED_BANNER =
  '> [!WARNING]\n> **SIMULATED**: signed by the software NSM of the local backend, not by AWS Nitro hardware. It proves nothing about where or how the outputs were built.';

/** Where build mode put its results. */
export type Destination =
  | {
      kind: 'release';
      tag: string;
      url: string;
      draft: boolean;
      assets: AssetOutcome[];
    }
  | { kind: 'artifact'; name: string; runUrl: string }
  | { kind: 'none' };

/** Everything the summary of a build shows. */
export interface BuildSummaryData {
  verified: BundleVerified;
  repository: RepoRef;
  /** The repository's URL, recorded in the bundle and checked (`--repo`). */
  repositoryUrl: string;
  serverUrl: string;
  bundleName: string;
  bundleSha256: string;
  provenanceSha256: string;
  jobId: string;
  nonce: string;
  nonceDerived: boolean;
  runId: string;
  runAttempt: string;
  /** Subject name -> release asset name. */
  assetNames: Map<string, string>;
  /** The policy file, relative to the repository, or null. */
  policy: string | null;
  destination: Destination;
}

function sourceLines(
  v: Pick<BundleVerified, 'source'>,
  serverUrl: string,
  repo: RepoRef | null,
): string[] {
  const commit = v.source.commit;
  const link =
    commit !== null && repo !== null
      ? ` ([view](${serverUrl}/${repo.owner}/${repo.repo}/commit/${commit}))`
      : '';
  return [
    `- **Source commit:** ${commit === null ? 'not bound' : code(commit)}${link}`,
    `- **Source tree:** ${code(v.source.tree)}`,
  ];
}

function imageLines(v: Pick<BundleVerified, 'image'>): string[] {
  return [
    `- **Enclave image:** ${text(v.image.name)} ${text(v.image.version)}`,
    `- **PCR0:** ${code(v.image.pcr0)}`,
    `- **PCR1:** ${code(v.image.pcr1)}`,
    `- **PCR2:** ${code(v.image.pcr2)}`,
  ];
}

/** The closing line: the verify page, which checks the bundles in the reader's own browser. */
function pageLine(url: string): string {
  return `Or [check it in your browser](${url}): the verify page runs the same checks locally.`;
}

/** The job summary of a build. */
export function buildSummary(d: BuildSummaryData): string {
  const v = d.verified;
  const repo = `${d.repository.owner}/${d.repository.repo}`;
  const out: string[] = ['## Attested build: verified', ''];
  if (v.simulated) out.push(SIMULATED_BANNER, '');
  const outcome = new Map(
    d.destination.kind === 'release' ? d.destination.assets.map((a) => [a.name, a]) : [],
  );
  out.push(
    table(
      ['artifact', 'sha256', ...(d.destination.kind === 'release' ? ['release asset'] : [])],
      v.subjects.map((s) => {
        const asset = d.assetNames.get(s.name);
        const o = asset === undefined ? undefined : outcome.get(asset);
        return [
          code(s.name),
          code(s.sha256),
          ...(d.destination.kind === 'release'
            ? [asset === undefined ? '' : `${code(asset)} ${o?.action ?? ''}`]
            : []),
        ];
      }),
    ),
    '',
    `- **Source repository:** ${v.source.repository === null ? 'not recorded' : code(v.source.repository)}`,
    ...sourceLines(v, d.serverUrl, d.repository),
    ...imageLines(v),
    `- **Builder:** ${v.builder.name === null ? 'not named by the policy' : text(v.builder.name)} (PCR3 ${code(v.builder.pcr3)})`,
    `- **Attested at:** ${new Date(v.timestamp).toISOString()}`,
    `- **Nonce:** ${code(d.nonce)}${d.nonceDerived ? ` (derived from run ${text(d.runId)}, attempt ${text(d.runAttempt)}; see the action's documentation)` : ''}`,
    `- **Provenance sha256:** ${code(d.provenanceSha256)}`,
    `- **Bundle:** ${code(d.bundleName)} (sha256 ${code(d.bundleSha256)}), agent job ${code(d.jobId)}`,
    `- **Verification:** passed${v.simulated ? ' (SIMULATED)' : ''}: attestation, image and builder measurements, provenance, every artifact digest, nonce, commit and repository`,
    '',
  );
  const sim = v.simulated ? ' --allow-simulated' : '';
  const policy = d.policy === null ? '' : ` --policy ${shellQuote(d.policy)}`;
  const verify = `npx tee-compile verify ${shellQuote(d.bundleName)} --repo ${shellQuote(d.repositoryUrl)} --commit ${v.source.commit ?? ''} --nonce ${d.nonce}${policy}${sim}`;
  const dest = d.destination;
  if (dest.kind === 'release') {
    out.push(
      `**Published to** release [${text(dest.tag)}](${dest.url})${dest.draft ? ' (draft: publish it when ready, or set `publish: true`)' : ''}.`,
      '',
      table(
        ['asset', 'sha256', 'action'],
        dest.assets.map((a) => [
          code(a.name),
          code(a.sha256),
          text(a.action + (a.note ? `: ${a.note}` : '')),
        ]),
      ),
      '',
      '### Verify it yourself',
      '',
      shell([
        `gh release download ${shellQuote(dest.tag)} --repo ${repo} --pattern ${shellQuote(d.bundleName)}`,
        verify,
      ]),
    );
  } else if (dest.kind === 'artifact') {
    out.push(
      `**Uploaded** as workflow artifact ${code(dest.name)} of [this run](${dest.runUrl}).`,
      '',
      '### Verify it yourself',
      '',
      shell([`gh run download ${d.runId} --repo ${repo} --name ${shellQuote(dest.name)}`, verify]),
    );
  } else {
    out.push(
      'Nothing was uploaded (upload: none).',
      '',
      '### Verify it yourself',
      '',
      shell([verify]),
    );
  }
  const bundleUrl =
    dest.kind === 'release'
      ? [releaseAssetUrl(d.serverUrl, d.repository, dest.tag, d.bundleName)]
      : [];
  out.push(
    '',
    pageLine(verifyPageLink({ bundles: bundleUrl, commit: v.source.commit, nonce: d.nonce })),
  );
  return out.join('\n') + '\n';
}

/** The summary of a step that failed, with its code (docs/errors.md) when it is one of ours. */
export function failureSummary(
  heading: string,
  failure: { code?: string; message: string },
  detail: string[] = [],
): string {
  const out = [`## ${heading}: failed`, '', `> ${text(failure.message, 2000)}`, ''];
  if (failure.code !== undefined) out.push(`Error code: ${code(failure.code)}`, '');
  return [...out, ...detail, ''].join('\n');
}

/** Everything the summary of a verification shows. */
export interface VerifySummaryData {
  from: string;
  result: SetVerification;
  /** Why the step fails (the set's refusal, or a release asset that differs), or null. */
  failure: string | null;
  minBuilders: number;
  assetChecks: { name: string; ok: boolean; note: string }[];
  published: { tag: string; url: string } | null;
  verifyCommand: string[];
  /** The verify page opened on these bundles (e.g. the release's assets). */
  pageLink?: string;
}

/** Longest diffoscope report shown per file, and for all files together, in a job summary. */
export const MAX_SUMMARY_DIFFOSCOPE_CHARS = 8_000;
export const MAX_SUMMARY_DIFFOSCOPE_TOTAL = 200_000;

function side(x: { sha256: string; size: number } | null): [string, string] {
  return x === null ? ['absent', ''] : [code(x.sha256), `${x.size} bytes`];
}

/** A difference summary in one table cell: its own lines kept apart, each escaped. */
function summaryCell(summary: string): string {
  return summary
    .split('\n')
    .slice(0, 12)
    .map((l) => text(l, 300))
    .join('<br>');
}

/**
 * For each bundle outside the first group, the files that differ: path, both digests and sizes,
 * the summary, and diffoscope's report (once per group, bounded) when the runner has diffoscope.
 */
function differenceSections(r: SetVerification): string[] {
  const out: string[] = [];
  const first = r.groups[0];
  const reference = r.majority
    ? 'the majority'
    : `group 1 (${(first?.builders ?? []).map((b) => text(b)).join(', ')})`;
  const [left, right] = r.majority ? ['majority', 'dissent'] : ['group 1', 'this bundle'];
  const shown = new Set<SetVerification['differences'][number]['files']>();
  let budget = MAX_SUMMARY_DIFFOSCOPE_TOTAL;
  for (const diff of r.differences) {
    out.push(
      '',
      `**${text(diff.builder)}** (${code(diff.bundle)}) differs from ${reference} in:`,
      '',
      table(
        ['file', `${left} sha256`, `${left} size`, `${right} sha256`, `${right} size`, 'summary'],
        diff.files.map((f) => [
          code(f.path),
          ...side(f.majority),
          ...side(f.dissent),
          summaryCell(f.summary ?? ''),
        ]),
      ),
    );
    // The bundles of one group share their comparison: its reports are shown once.
    if (shown.has(diff.files)) continue;
    shown.add(diff.files);
    for (const f of diff.files) {
      if (f.diffoscope === undefined || budget <= 0) continue;
      const cut =
        f.diffoscope.length > MAX_SUMMARY_DIFFOSCOPE_CHARS
          ? `${f.diffoscope.slice(0, MAX_SUMMARY_DIFFOSCOPE_CHARS)}\n… (cut: run the command below for the whole report)`
          : f.diffoscope;
      budget -= cut.length;
      out.push(
        '',
        `<details><summary>diffoscope: ${text(f.path)}</summary>`,
        '',
        preformatted(cut),
        '',
        '</details>',
      );
    }
  }
  return out;
}

/** The job summary of a verification. */
export function verifySummary(d: VerifySummaryData): string {
  const r = d.result;
  const out: string[] = [
    `## Attested release: ${d.failure === null ? 'verified' : 'refused'}`,
    '',
    `Bundles from ${text(d.from)}; ${d.minBuilders} agreeing builder${d.minBuilders === 1 ? '' : 's'} required.`,
    '',
  ];
  if (r.simulated) out.push(SIMULATED_BANNER, '');
  out.push(`> ${text(r.message, 2000)}`, '');
  if (d.failure !== null) out.push(`> **${text(d.failure, 2000)}**`, '');
  for (const w of r.warnings) out.push(`> [!NOTE]\n> ${text(w)}`, '');
  out.push(
    table(
      ['bundle', 'result', 'builder', 'image', 'commit'],
      r.bundles.map(({ bundle, result }) =>
        result.ok
          ? [
              code(bundle),
              result.simulated ? 'verified (SIMULATED)' : 'verified',
              text(builderLabel(result)),
              `${text(result.image.name)} ${text(result.image.version)} (PCR0 ${code(result.image.pcr0.slice(0, 16) + '…')})`,
              result.source.commit === null ? 'not bound' : code(result.source.commit.slice(0, 12)),
            ]
          : [
              code(bundle),
              `refused: ${text(result.code)}: ${text(result.message, 300)}`,
              '',
              '',
              '',
            ],
      ),
    ),
    '',
  );
  if (r.agreeing.length > 0)
    out.push(`- **Agreeing builders:** ${r.agreeing.map((b) => text(b)).join(', ')}`);
  else if (!r.majority && r.groups.length > 1)
    out.push(
      '- **Agreeing builders:** none (no majority: the largest groups have as many builders)',
    );
  if (r.dissenting.length > 0)
    out.push(`- **Dissenting builders:** ${r.dissenting.map((b) => text(b)).join(', ')}`);
  const top = r.groups[0];
  if (r.ok && top !== undefined) {
    out.push(
      '',
      table(
        ['artifact', 'sha256'],
        top.subjects.map((s) => [code(s.name), code(s.sha256)]),
      ),
    );
  }
  out.push(...differenceSections(r));
  if (d.assetChecks.length > 0) {
    out.push(
      '',
      '### Release assets against the attested artifacts',
      '',
      table(
        ['asset', 'result'],
        d.assetChecks.map((c) => [
          code(c.name),
          `${c.ok ? 'matches' : '**differs**'}${c.note ? `: ${text(c.note)}` : ''}`,
        ]),
      ),
    );
  }
  if (d.published !== null)
    out.push('', `Release [${text(d.published.tag)}](${d.published.url}) **published**.`);
  out.push('', '### Verify it yourself', '', shell(d.verifyCommand), '');
  if (d.pageLink !== undefined) out.push(pageLine(d.pageLink), '');
  return out.join('\n');
}
