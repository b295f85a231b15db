/**
 * Build mode: prepare the committed source and its dependencies, have the agent build them in a
 * fresh enclave (its events streamed into the log, one group per phase) in the directory of the
 * `config` input, recording this repository as the source's, verify the bundle with the nonce,
 * commit and repository this step asked for, and only then publish: to the release of the tag (as
 * a draft unless asked to publish), as a workflow artifact, or nowhere.
 */
import { randomBytes } from 'node:crypto';
import { buildIdToken } from './oidc.js';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { fileChunks } from '../archive/node.js';
import type { BundleContents } from '../bundle/index.js';
import { readBundle } from '../bundle/index.js';
import type { BundleVerified } from '../verify/index.js';
import { normalizeRepositoryUrl } from '../provenance/index.js';
import { printable } from '../util/printable.js';
import { verifyBundle } from '../verify/index.js';
import { AgentClient } from './agent-client.js';
import { repositoryUrl } from './context.js';
import type { RunDeps, RunResult } from './deps.js';
import { sha256Hex } from './digest.js';
import { ActionError } from './errors.js';
import type { BuildInputs } from './inputs.js';
import {
  ATTESTATION_SUFFIX,
  BUNDLE_SUFFIX,
  PROVENANCE_SUFFIX,
  artifactAssetNames,
  artifactEvidencePrefix,
  builderSlug,
  releaseEvidencePrefix,
  workflowArtifactName,
} from './naming.js';
import { actionPolicy } from './policy.js';
import type { ReleaseFile } from './release.js';
import { publishToRelease } from './release.js';
import type { PreparedSource } from './source.js';
import { prepareSource } from './source.js';
import { eventPrinter } from './progress.js';
import type { Destination } from './summary.js';
import { buildSummary } from './summary.js';

/** Runs the build on the agent; returns the bundle file, verified. */
async function buildOnAgent(
  inputs: BuildInputs,
  deps: RunDeps,
  src: PreparedSource,
  repository: string,
  work: string,
): Promise<{ file: string; sha256: string; jobId: string }> {
  const client = new AgentClient({ url: inputs.agentUrl, token: inputs.agentToken });
  const controller = new AbortController();
  const onCancel = (): void =>
    controller.abort(new ActionError('CANCELLED', 'the step was cancelled'));
  deps.signal.addEventListener('abort', onCancel, { once: true });
  if (deps.signal.aborted) onCancel();
  const timer = setTimeout(
    () =>
      controller.abort(
        new ActionError(
          'TIMEOUT',
          `the build did not finish within ${inputs.timeoutMs / 60_000} minutes (timeout-minutes)`,
        ),
      ),
    inputs.timeoutMs,
  );
  let jobId: string | null = null;
  let finished = false;
  const printer = eventPrinter(deps);
  try {
    const oidcToken = await buildIdToken(deps.idToken, inputs.nonce, deps.log);
    deps.log.info(`submitting the build to the agent at ${inputs.agentUrl}`);
    const job = await client.submit(
      {
        source: src.archive.file,
        dependencies: src.dependencies?.file ?? null,
        nonce: inputs.nonce,
        // The agent reads the workdir's build.json from the source; another file is sent along.
        config: posix.basename(inputs.config) === 'build.json' ? null : src.configText,
        workdir: src.workdir,
        repository,
        oidcToken,
      },
      controller.signal,
    );
    jobId = job.jobId;
    if (job.nonce !== '' && job.nonce !== inputs.nonce)
      throw new ActionError(
        'AGENT_PROTOCOL',
        `the agent recorded nonce ${job.nonce} for job ${jobId}, not the one sent`,
      );
    deps.log.info(`agent job ${jobId}`);
    const done = await client.follow(jobId, printer.onEvent, controller.signal);
    finished = true;
    if (!done.ok)
      throw new ActionError(
        'BUILD_FAILED',
        `the build failed on the agent (${done.errorType}): ${done.message}`,
      );
    const file = join(work, `${jobId}${BUNDLE_SUFFIX}`);
    const got = await client.downloadResult(jobId, file, controller.signal);
    if (done.sha256 !== null && done.sha256 !== got.sha256)
      throw new ActionError(
        'AGENT_PROTOCOL',
        `the bundle downloaded (sha256 ${got.sha256}) is not the one the job produced (${done.sha256})`,
      );
    deps.log.info(`bundle received: ${got.bytes} bytes, sha256 ${got.sha256}`);
    return { file, sha256: got.sha256, jobId };
  } catch (e) {
    // Leave no enclave running for a step that is gone (cancelled, timed out, or lost track).
    if (jobId !== null && !finished) {
      deps.log.warning(`cancelling agent job ${jobId}`);
      await client.cancel(jobId);
    }
    throw e;
  } finally {
    printer.close();
    clearTimeout(timer);
    deps.signal.removeEventListener('abort', onCancel);
  }
}

/** Verifies the bundle before anything is published; throws BUNDLE_REFUSED when it does not pass. */
async function verifyOwnBundle(
  inputs: BuildInputs,
  deps: RunDeps,
  file: string,
  commit: string,
  repository: string,
): Promise<{ verified: BundleVerified; contents: BundleContents }> {
  const policy = await actionPolicy(
    {
      policyFile: inputs.policyFile,
      minBuilders: null,
      allowSimulated: inputs.allowSimulated,
      nonce: inputs.nonce,
      commit,
      repository,
    },
    deps.defaultImages,
  );
  // One build is one builder: k applies to the set, in verify mode.
  policy.minBuilders = 1;
  const contents = await readBundle(fileChunks(file)).catch((e: unknown) => {
    throw new ActionError(
      'BUNDLE_REFUSED',
      `the agent's bundle is not readable: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  });
  // GitHub's current keys are fetched only for a bundle that carries a workflow token.
  const hasToken = new TextDecoder().decode(contents.provenance).includes('"source/oidc-token"');
  const oidcKeys =
    hasToken && deps.oidcKeys
      ? await deps.oidcKeys().catch((e: unknown) => {
          deps.log.warning(`cannot fetch GitHub's OIDC keys: ${(e as Error).message}`);
          return [];
        })
      : [];
  const r = await verifyBundle(contents, policy, { now: deps.now(), oidcKeys });
  if (!r.ok) {
    const hint =
      r.code === 'SIMULATED_NOT_ALLOWED'
        ? ' (the agent runs the local backend: set allow-simulated: true to accept its simulated attestations)'
        : '';
    throw new ActionError(
      'BUNDLE_REFUSED',
      `the bundle did not verify, nothing was published: ${r.code}: ${printable(r.message, 2000)}${hint}`,
      r.path === undefined ? {} : { path: r.path },
    );
  }
  return { verified: r, contents };
}

/** Build mode (see the module comment). */
export async function runBuildMode(inputs: BuildInputs, deps: RunDeps): Promise<RunResult> {
  const ctx = inputs.context;
  const repository = repositoryUrl(ctx);
  // The agent records https:// repositories only; say so here, before anything is uploaded.
  if (!repository.startsWith('https://') || normalizeRepositoryUrl(repository) === null)
    throw new ActionError(
      'INPUT_INVALID',
      `GITHUB_SERVER_URL: ${JSON.stringify(repository)} is not a repository URL the bundle can record (https://host/owner/repo)`,
      { path: 'GITHUB_SERVER_URL' },
    );
  const work = join(ctx.runnerTemp, `tee-compile-work-${randomBytes(6).toString('hex')}`);
  const outDir = join(ctx.runnerTemp, 'tee-compile');
  try {
    await mkdir(work, { recursive: true });
    deps.log.startGroup('source and dependencies');
    let src: PreparedSource;
    try {
      src = await prepareSource({
        workspace: ctx.workspace,
        config: inputs.config,
        tempDir: join(work, 'in'),
        env: deps.env,
        signal: deps.signal,
      });
      deps.log.info(`commit ${src.commit}, tree ${src.tree}`);
      deps.log.info(
        src.workdir === '.'
          ? `build.json at the repository root (${inputs.config})`
          : `build.json in ${src.workdir} (${inputs.config}): the build runs there`,
      );
      deps.log.info(`source archive: ${src.archive.bytes} bytes, sha256 ${src.archive.sha256}`);
      deps.log.info(
        src.dependencies === null
          ? 'no locked dependencies'
          : `${src.dependencies.count} locked dependencies: ${src.dependencies.bytes} bytes`,
      );
      deps.log.info(`nonce ${inputs.nonce}${inputs.nonceDerived ? ' (derived from the run)' : ''}`);
    } finally {
      deps.log.endGroup();
    }
    if (src.commit !== ctx.sha)
      deps.log.warning(`building the checked-out commit ${src.commit}, not GITHUB_SHA ${ctx.sha}`);

    const built = await buildOnAgent(inputs, deps, src, repository, work);
    const { verified, contents } = await verifyOwnBundle(
      inputs,
      deps,
      built.file,
      src.commit,
      repository,
    );
    deps.log.info(
      `verified${verified.simulated ? ' (SIMULATED)' : ''}: ${verified.subjects.length} artifacts, image ${printable(verified.image.name, 60)} ${printable(verified.image.version, 40)}`,
    );

    const builder = builderSlug(verified);
    const prefix =
      inputs.release !== null
        ? releaseEvidencePrefix(ctx.repository.repo, inputs.release, builder)
        : artifactEvidencePrefix(ctx.repository.repo, src.commit, builder);
    await mkdir(outDir, { recursive: true });
    const bundleName = `${prefix}${BUNDLE_SUFFIX}`;
    const bundlePath = join(outDir, bundleName);
    await rename(built.file, bundlePath).catch(async () => {
      // Another file system: copy.
      await writeFile(bundlePath, await readFile(built.file));
    });
    const provenanceSha256 = sha256Hex(contents.provenance);
    const assetNames = artifactAssetNames(verified.subjects.map((s) => s.name));

    let destination: Destination = { kind: 'none' };
    if (inputs.upload === 'release') {
      const files: ReleaseFile[] = [];
      for (const s of verified.subjects) {
        const bytes = contents.artifacts.get(s.name);
        if (bytes === undefined) continue;
        files.push({
          name: assetNames.get(s.name)!,
          bytes,
          contentType: 'application/octet-stream',
          kind: 'artifact',
        });
      }
      files.push(
        {
          name: `${prefix}${PROVENANCE_SUFFIX}`,
          bytes: contents.provenance,
          contentType: 'application/json',
          kind: 'evidence',
        },
        {
          name: `${prefix}${ATTESTATION_SUFFIX}`,
          bytes: contents.attestation,
          contentType: 'application/cbor',
          kind: 'evidence',
        },
        {
          name: bundleName,
          bytes: await readFile(bundlePath),
          contentType: 'application/gzip',
          kind: 'evidence',
        },
      );
      deps.log.startGroup(`release ${inputs.release!}`);
      try {
        const r = await publishToRelease(deps.github, {
          repo: ctx.repository,
          tag: inputs.release!,
          commit: src.commit,
          files,
          publish: inputs.publish,
          body: `Built from ${src.commit} in an attested enclave. Each \`*${BUNDLE_SUFFIX}\` verifies the artifacts offline: \`npx tee-compile verify <bundle>\`.`,
          warn: (m) => deps.log.warning(m),
        });
        for (const a of r.assets) deps.log.info(`${a.action} ${a.name} (sha256 ${a.sha256})`);
        deps.log.info(
          `${r.created ? 'created draft' : 'found'} release ${r.release.tagName}${r.published ? ', published' : ''}`,
        );
        destination = {
          kind: 'release',
          tag: inputs.release!,
          url: r.release.htmlUrl,
          draft: !r.published,
          assets: r.assets,
        };
      } finally {
        deps.log.endGroup();
      }
    } else if (inputs.upload === 'artifact') {
      const name = workflowArtifactName(builder);
      await deps.artifacts.upload(name, [bundlePath], outDir);
      deps.log.info(`uploaded workflow artifact ${name}`);
      destination = {
        kind: 'artifact',
        name,
        runUrl: `${ctx.serverUrl}/${ctx.repository.owner}/${ctx.repository.repo}/actions/runs/${ctx.runId}`,
      };
    }

    return {
      ok: true,
      outputs: {
        bundle: bundlePath,
        'provenance-sha256': provenanceSha256,
        pcr0: verified.image.pcr0,
        subjects: JSON.stringify(
          verified.subjects.map((s) => ({ name: s.name, sha256: s.sha256 })),
        ),
        verified: 'true',
      },
      title: `verified${verified.simulated ? ' (SIMULATED)' : ''}: ${verified.subjects.length} artifact${verified.subjects.length === 1 ? '' : 's'} built by ${builder} in ${verified.image.name} ${verified.image.version}`,
      summary: buildSummary({
        verified,
        repository: ctx.repository,
        repositoryUrl: repository,
        serverUrl: ctx.serverUrl,
        bundleName,
        bundleSha256: built.sha256,
        provenanceSha256,
        jobId: built.jobId,
        nonce: inputs.nonce,
        nonceDerived: inputs.nonceDerived,
        runId: ctx.runId,
        runAttempt: ctx.runAttempt,
        assetNames,
        policy: inputs.policyFile === null ? null : relative(ctx.workspace, inputs.policyFile),
        destination,
      }),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
