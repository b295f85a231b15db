/**
 * Verify mode: fetch the bundles of a release (or the workflow artifacts of a matrix of builders),
 * verify them as one k-of-n set against the trust policy, check that the release's artifact
 * assets are the attested bytes, and, when asked, publish the draft release once all of that
 * holds: the gate of a consensus job.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import picomatch from 'picomatch';
import { readArtifacts } from '../bundle/index.js';
import type { BundleVerified, NamedBundle, SetVerification, TrustPolicy } from '../verify/index.js';
import { releaseAssetUrl, setReport, verifyBundles, verifyPageLink } from '../verify/index.js';
import { diffoscopeComparer } from '../verify/node.js';
import type { RepoRef } from './context.js';
import type { ActionFailureCode, RunDeps, RunResult } from './deps.js';
import { toHex } from '../util/hex.js';
import { sha256Hex } from './digest.js';
import { ActionError } from './errors.js';
import type { Release } from './github.js';
import type { VerifyInputs } from './inputs.js';
import { printable } from '../util/printable.js';
import { shellGlob, shellQuote } from './markdown.js';
import {
  BUNDLE_SUFFIX,
  artifactAssetNames,
  builderSlug,
  releaseEvidencePrefix,
  safeAssetName,
} from './naming.js';
import { actionPolicy } from './policy.js';
import { verifySummary } from './summary.js';
import { emitVsa } from './vsa.js';

/** Bundles verified at most in one run. */
export const MAX_BUNDLES = 64;
/** Depth searched for bundles inside a downloaded workflow artifact. */
const MAX_ARTIFACT_DEPTH = 4;

interface LocalBundle {
  name: string;
  path: string;
  bytes: Uint8Array;
}

async function findBundles(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth < MAX_ARTIFACT_DEPTH)
      out.push(...(await findBundles(p, depth + 1)));
    else if (e.isFile() && e.name.endsWith(BUNDLE_SUFFIX)) out.push(p);
  }
  return out.sort();
}

async function fromArtifacts(
  inputs: VerifyInputs,
  deps: RunDeps,
  dir: string,
): Promise<LocalBundle[]> {
  const match = picomatch(inputs.artifacts!);
  const chosen = (await deps.artifacts.list()).filter((a) => match(a.name));
  if (chosen.length === 0)
    throw new ActionError(
      'NO_BUNDLES',
      `no workflow artifact of this run matches ${JSON.stringify(inputs.artifacts)}`,
    );
  const out: LocalBundle[] = [];
  for (const a of chosen.slice(0, MAX_BUNDLES)) {
    const into = join(dir, safeAssetName(a.name));
    await mkdir(into, { recursive: true });
    await deps.artifacts.download(a.id, into);
    for (const path of await findBundles(into))
      out.push({ name: relative(dir, path), path, bytes: new Uint8Array(await readFile(path)) });
  }
  if (out.length === 0)
    throw new ActionError(
      'NO_BUNDLES',
      `the artifacts matching ${JSON.stringify(inputs.artifacts)} hold no *${BUNDLE_SUFFIX}`,
    );
  return out;
}

async function fromRelease(
  inputs: VerifyInputs,
  deps: RunDeps,
  release: Release,
  dir: string,
): Promise<LocalBundle[]> {
  const match = picomatch(inputs.assets);
  const chosen = (await deps.github.listAssets(inputs.repository, release.id)).filter(
    (a) => a.state === 'uploaded' && match(a.name),
  );
  if (chosen.length === 0)
    throw new ActionError(
      'NO_BUNDLES',
      `release ${release.tagName} has no asset matching ${JSON.stringify(inputs.assets)}`,
    );
  const out: LocalBundle[] = [];
  for (const a of chosen.slice(0, MAX_BUNDLES)) {
    const bytes = await deps.github.downloadAsset(inputs.repository, a.id);
    const path = join(dir, safeAssetName(a.name));
    await writeFile(path, bytes);
    out.push({ name: a.name, path, bytes });
  }
  return out;
}

async function requireRelease(deps: RunDeps, repo: RepoRef, tag: string): Promise<Release> {
  const r = await deps.github.findRelease(repo, tag);
  if (r === null)
    throw new ActionError(
      'RELEASE_NOT_FOUND',
      `${repo.owner}/${repo.repo} has no release ${tag} (published, or a draft this token can see)`,
    );
  return r;
}

/**
 * Compares the release's artifact assets with the agreed artifacts (their attested digests). With
 * `fix` (publishing a draft), missing or differing assets are set to the agreed bytes, read from
 * the agreed bundle through the same reader that verified it; otherwise a differing asset is a
 * failure and a missing one a note.
 */
async function checkAssets(
  deps: RunDeps,
  repo: RepoRef,
  release: Release,
  agreed: { bytes: Uint8Array; verified: BundleVerified },
  fix: boolean,
): Promise<{ name: string; ok: boolean; note: string }[]> {
  const digests = new Map(agreed.verified.subjects.map((s) => [s.name, s.sha256]));
  const names = artifactAssetNames([...digests.keys()]);
  const assets = await deps.github.listAssets(repo, release.id);
  const out: { name: string; ok: boolean; note: string }[] = [];
  for (const [subject, name] of names) {
    const wantSha = digests.get(subject)!;
    const asset = assets.find((a) => a.name === name && a.state === 'uploaded');
    const have =
      asset === undefined ? null : sha256Hex(await deps.github.downloadAsset(repo, asset.id));
    if (have === wantSha) {
      out.push({ name, ok: true, note: '' });
      continue;
    }
    if (fix) {
      const want = (
        await readArtifacts(agreed.bytes, new Set([subject]), Number.MAX_SAFE_INTEGER)
      ).get(subject)!;
      if (sha256Hex(want) !== wantSha)
        throw new ActionError('ASSET_MISMATCH', `the agreed bundle changed while it was read`);
      if (asset !== undefined) await deps.github.deleteAsset(repo, asset.id);
      await deps.github.uploadAsset(release, name, want, 'application/octet-stream');
      out.push({
        name,
        ok: true,
        note:
          asset === undefined ? 'attached from the agreed bundle' : 'replaced by the agreed bytes',
      });
    } else {
      out.push(
        asset === undefined
          ? { name, ok: true, note: 'not attached to the release' }
          : {
              name,
              ok: false,
              note: `sha256 ${have ?? ''} is not the attested ${wantSha}`,
            },
      );
    }
  }
  return out;
}

/**
 * Attaches the verified bundles of the agreeing builders to the release under the release's
 * naming (`<repo>-<tag>.<builder>.bundle.tar.gz`); one already there with the same bytes is kept.
 */
async function attachBundles(
  deps: RunDeps,
  repo: RepoRef,
  release: Release,
  bundles: LocalBundle[],
  result: SetVerification,
): Promise<{ name: string; ok: boolean; note: string }[]> {
  const agreeing = new Set(result.groups[0]?.bundles ?? []);
  const assets = await deps.github.listAssets(repo, release.id);
  const out: { name: string; ok: boolean; note: string }[] = [];
  for (const { bundle, result: r } of result.bundles) {
    const local = bundles.find((b) => b.name === bundle);
    if (!r.ok || !agreeing.has(bundle) || local === undefined) continue;
    const name = `${releaseEvidencePrefix(repo.repo, release.tagName, builderSlug(r))}${BUNDLE_SUFFIX}`;
    const asset = assets.find((a) => a.name === name && a.state === 'uploaded');
    if (
      asset !== undefined &&
      sha256Hex(await deps.github.downloadAsset(repo, asset.id)) === sha256Hex(local.bytes)
    )
      continue;
    if (asset !== undefined) await deps.github.deleteAsset(repo, asset.id);
    await deps.github.uploadAsset(release, name, local.bytes, 'application/gzip');
    out.push({ name, ok: true, note: 'bundle attached from the workflow artifacts' });
  }
  return out;
}

function verifyCommand(inputs: VerifyInputs, policy: TrustPolicy): string[] {
  const repo = `${inputs.repository.owner}/${inputs.repository.repo}`;
  const flags = [
    `--min-builders ${policy.minBuilders}`,
    ...(inputs.policyFile !== null
      ? [`--policy ${shellQuote(relative(inputs.context.workspace, inputs.policyFile))}`]
      : []),
    ...(inputs.nonce !== null ? [`--nonce ${inputs.nonce}`] : []),
    ...(policy.allowSimulated ? ['--allow-simulated'] : []),
  ].join(' ');
  if (inputs.artifacts !== null)
    return [
      `gh run download ${inputs.context.runId} --repo ${repo} --pattern ${shellQuote(inputs.artifacts)}`,
      `npx tee-compile verify */*${BUNDLE_SUFFIX} ${flags}`,
    ];
  return [
    `gh release download ${shellQuote(inputs.release!)} --repo ${repo} --pattern ${shellQuote(inputs.assets)}`,
    `npx tee-compile verify ${shellGlob(inputs.assets)} ${flags}`,
  ];
}

/** Verify mode (see the module comment). */
export async function runVerifyMode(inputs: VerifyInputs, deps: RunDeps): Promise<RunResult> {
  const policy = await actionPolicy(
    {
      policyFile: inputs.policyFile,
      minBuilders: inputs.minBuilders,
      allowSimulated: inputs.allowSimulated,
      nonce: inputs.nonce,
    },
    deps.defaultImages,
  );
  const dir = join(inputs.context.runnerTemp, 'tee-compile-verify');
  await mkdir(dir, { recursive: true });
  const repoName = `${inputs.repository.owner}/${inputs.repository.repo}`;

  let release: Release | null = null;
  let bundles: LocalBundle[];
  let from: string;
  if (inputs.artifacts !== null) {
    bundles = await fromArtifacts(inputs, deps, dir);
    from = `the workflow artifacts matching ${inputs.artifacts}`;
    // A consensus job gating a draft: the release the builders attached to.
    if (inputs.release !== null && inputs.publish)
      release = await requireRelease(deps, inputs.repository, inputs.release);
  } else {
    release = await requireRelease(deps, inputs.repository, inputs.release!);
    bundles = await fromRelease(inputs, deps, release, dir);
    from = `release ${inputs.release!} of ${repoName}`;
  }
  deps.log.info(
    `verifying ${bundles.length} bundle${bundles.length === 1 ? '' : 's'} from ${from}`,
  );

  const named: NamedBundle[] = bundles.map((b) => ({ name: b.name, source: b.bytes }));
  // diffoscope, when the runner has it, as `tee-compile verify` uses it.
  const result: SetVerification = await verifyBundles(named, policy, {
    now: deps.now(),
    compare: diffoscopeComparer({ env: deps.env }),
  });
  // Names and messages come from the bundles: escaped, so that none can start a line of the log
  // (a workflow command) or carry terminal escapes.
  for (const { bundle, result: r } of result.bundles)
    deps.log.info(
      `${printable(bundle, 200)}: ${r.ok ? `verified${r.simulated ? ' (SIMULATED)' : ''}` : `refused: ${r.code}: ${printable(r.message, 2000)}`}`,
    );
  deps.log.info(printable(result.message, 2000));

  const agreedName = result.ok ? result.groups[0]?.bundles[0] : undefined;
  const agreed = bundles.find((b) => b.name === agreedName);
  // The release's assets are checked against its verified subjects, the outputs taken from them.
  const verifiedAgreed = result.bundles.find((b) => b.bundle === agreedName)?.result;
  const agreedVerified =
    agreed !== undefined && verifiedAgreed?.ok === true
      ? { bytes: agreed.bytes, verified: verifiedAgreed }
      : null;
  let assetChecks: { name: string; ok: boolean; note: string }[] = [];
  // verifyBundles names the code of every refusal (verify/set.ts): one without is a bug.
  if (!result.ok && result.code === undefined) throw new Error('a refused set without a code');
  let failure: { code: ActionFailureCode; message: string } | undefined = result.ok
    ? undefined
    : { code: result.code!, message: result.message };
  let published: { tag: string; url: string } | null = null;
  if (result.ok && agreedVerified !== null && release !== null) {
    const fix = inputs.publish && release.draft;
    assetChecks = await checkAssets(deps, inputs.repository, release, agreedVerified, fix);
    // Bundles that came as workflow artifacts go onto the release too: consumers verify from it.
    if (fix && inputs.artifacts !== null)
      assetChecks.push(...(await attachBundles(deps, inputs.repository, release, bundles, result)));
    const bad = assetChecks.filter((c) => !c.ok);
    if (bad.length > 0)
      failure = {
        code: 'ASSET_MISMATCH',
        message: `release ${release.tagName} has ${bad.map((c) => c.name).join(', ')} with bytes no agreeing builder attested`,
      };
  }

  const ok = failure === undefined;
  // The signed verdict goes onto the release before it is published (immutable releases lock
  // their assets then).
  const vsa =
    inputs.vsa === null
      ? null
      : await emitVsa(
          {
            key: inputs.vsa,
            report: { ...setReport(result), ok },
            policy,
            policyUri:
              inputs.policyFile === null
                ? 'tee-compile:action-inputs'
                : relative(inputs.context.workspace, inputs.policyFile),
            context: inputs.context,
            repository: inputs.repository,
            release,
          },
          deps,
        );
  if (ok && agreedVerified !== null && release !== null && inputs.publish && release.draft) {
    const r = await deps.github.publishRelease(inputs.repository, release.id);
    published = { tag: r.tagName, url: r.htmlUrl };
    deps.log.info(`published release ${r.tagName}`);
  }

  const outputs: Record<string, string> = { verified: ok ? 'true' : 'false' };
  if (failure !== undefined) outputs.code = failure.code;
  if (vsa !== null) {
    outputs.vsa = vsa.path;
    outputs['vsa-sha256'] = vsa.sha256;
    outputs['vsa-location'] = vsa.location;
  }
  if (ok && agreed !== undefined && verifiedAgreed?.ok === true) {
    outputs.bundle = agreed.path;
    // The attested user_data is the SHA-256 of provenance.json: verification checked it.
    outputs['provenance-sha256'] = toHex(verifiedAgreed.document.userData!);
    outputs.pcr0 = verifiedAgreed.image.pcr0;
    outputs.subjects = JSON.stringify(
      verifiedAgreed.subjects.map((s) => ({ name: s.name, sha256: s.sha256 })),
    );
  }
  const summary = verifySummary({
    from,
    result,
    failure: failure === undefined ? null : `${failure.code}: ${failure.message}`,
    minBuilders: policy.minBuilders,
    assetChecks,
    published,
    verifyCommand: verifyCommand(inputs, policy),
    pageLink: verifyPageLink({
      bundles:
        inputs.artifacts === null && release !== null
          ? bundles.map((b) =>
              releaseAssetUrl(inputs.context.serverUrl, inputs.repository, release.tagName, b.name),
            )
          : [],
      commit: policy.source?.commit ?? null,
      nonce: policy.nonce ?? null,
    }),
  });
  const vsaLine =
    vsa === null
      ? ''
      : `\n- **Signed verdict (SLSA VSA, DSSE):** \`${vsa.location}\` (sha256 \`${vsa.sha256}\`)\n`;
  const full = summary + vsaLine;
  if (failure === undefined)
    return { ok: true, outputs, title: `verified: ${result.message}`, summary: full };
  const title = `refused: ${failure.message}`;
  return { ok: false, code: failure.code, failure: failure.message, outputs, title, summary: full };
}
