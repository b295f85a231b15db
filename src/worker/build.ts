/**
 * One build inside the enclave, as the protocol's build handler. Nothing from the host is taken
 * on faith: the config is parsed and validated here; the commit id is recomputed from the raw
 * commit object and the tree id from the extracted files, and both must equal the claims; the
 * lockfile is read from the verified source and every dependency's bytes are checked against it.
 * Then the command runs offline, the outputs are hashed, the provenance is written and attested
 * (user_data = SHA-256 of provenance.json, nonce = the client's), and the bundle is returned.
 */
import { createHash, randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NsmClient } from '../attestation/index.js';
import type { Language } from '../contracts/index.js';
import { NsmError } from '../attestation/index.js';
import { ArchiveError } from '../archive/index.js';
import { extractTar } from '../archive/node.js';
import { writeBundle } from '../bundle/node.js';
import type { BuildConfig, ObjectFormat } from '../provenance/index.js';
import {
  ProvenanceError,
  buildStatement,
  computeCommitId,
  parseBuildConfigText,
  parseCommitObject,
  serializeStatement,
  sourceDateEpoch,
} from '../provenance/index.js';
import { detectToolchain, readLockedDependencies, verifySourceTree } from '../provenance/node.js';
import type {
  BuildHandler,
  BuildOutcome,
  BuildReporter,
  ReceivedBuild,
} from '../protocol/index.js';
import { ProtocolError, WorkerError, isProtocolError } from '../protocol/index.js';
import { fromHex, toHex } from '../util/hex.js';
import { runCommand } from './command.js';
import type { JailOptions } from './jail.js';
import { giveToBuildUser } from './jail.js';
import { checkDependencies } from './dependencies.js';
import { buildEnvironment, toolchainEnv, workspaceLayout } from './environment.js';
import type { WorkspaceLayout } from './environment.js';
import { collectOutputs } from './outputs.js';
import { signProvenance, unsealBuilderKey } from './signing.js';
import { checkOrigin } from './origin.js';
import type { GitWorkspace } from './git-workspace.js';
import { writeGitIndex, writeGitWorkspace } from './git-workspace.js';
import { PhaseTimer } from './phase-timer.js';

/** Build time limit when build.json sets none (seconds). */
export const DEFAULT_BUILD_TIMEOUT_S = 3600;

/** Limits of the archives the worker unpacks. */
export const SOURCE_ARCHIVE_LIMITS = {
  maxEntries: 200_000,
  maxEntryBytes: 2 * 1024 ** 3,
  maxTotalBytes: 4 * 1024 ** 3,
} as const;
export const DEPS_ARCHIVE_LIMITS = {
  maxEntries: 500_000,
  maxEntryBytes: 2 * 1024 ** 3,
  maxTotalBytes: 8 * 1024 ** 3,
} as const;

/** The image this worker belongs to, as read from image.json. */
export interface WorkerImage {
  name: string;
  version: string;
  language: Language;
  toolchain: Record<string, string>;
}

/** What the worker learns from the NSM and its surroundings (needed to attest). */
export interface EnclaveFacts {
  nsm: NsmClient;
  /** PCR0/1/2 as read from the NSM (DescribePCR), hex. */
  pcrs: { pcr0: string; pcr1: string; pcr2: string };
  /** DescribeNSM and PCR3/4 as read, recorded in the provenance. */
  nsmInfo: Record<string, unknown>;
  isolation: Record<string, unknown>;
}

/** What the worker knows before any client arrives. */
export interface WorkerContext {
  image: WorkerImage;
  /** Found in the background while the client connects and the build runs. */
  facts: Promise<EnclaveFacts>;
  backend: 'local' | 'nitro';
  workspace: string;
  builderVersion: Record<string, string>;
  /** The worker's own environment, from which the toolchain's variables are taken. */
  env: NodeJS.ProcessEnv;
  /** Runs the build command in tee-jail as another user (see jail.ts). */
  jail?: JailOptions;
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

/** Turns failures of the parts into the worker's refusal codes; protocol failures pass through. */
function refusal(
  err: unknown,
  code: WorkerError['code'],
  what: string,
): WorkerError | ProtocolError {
  if (isProtocolError(err) || err instanceof WorkerError) return err;
  if (err instanceof ArchiveError || err instanceof ProvenanceError) {
    return new WorkerError(code, `${what} (${err.code}): ${err.message}`, {
      ...(err.path ? { path: err.path } : {}),
      cause: err,
    });
  }
  throw err;
}

async function readConfig(build: ReceivedBuild, image: WorkerImage): Promise<BuildConfig> {
  const bytes = await build.readAll('config');
  let config: BuildConfig;
  try {
    config = parseBuildConfigText(bytes.toString('utf8'), 'build.json');
  } catch (e) {
    if (e instanceof ProvenanceError)
      throw new WorkerError('CONFIG_INVALID', e.message, {
        ...(e.path ? { path: e.path } : {}),
        cause: e,
      });
    throw e;
  }
  if (config.language !== image.language)
    throw new WorkerError(
      'IMAGE_MISMATCH',
      `build.json asks for language ${config.language}, this worker's image ${image.name}@${image.version} builds ${image.language}`,
      { path: 'language' },
    );
  if (config.image?.name !== undefined && config.image.name !== image.name)
    throw new WorkerError(
      'IMAGE_MISMATCH',
      `build.json asks for image ${config.image.name}, this worker is ${image.name}`,
      {
        path: 'image.name',
      },
    );
  if (config.image?.version !== undefined && config.image.version !== image.version)
    throw new WorkerError(
      'IMAGE_MISMATCH',
      `build.json asks for image version ${config.image.version}, this worker is ${image.version}`,
      { path: 'image.version' },
    );
  return config;
}

/**
 * Checks the raw commit object against the claimed commit and tree before the source arrives (a
 * lie is refused before gigabytes are received); returns it with its SOURCE_DATE_EPOCH.
 */
async function checkCommit(
  build: ReceivedBuild,
): Promise<{ epoch: number; raw: Uint8Array | null }> {
  const raw = new Uint8Array(await build.readAll('commit'));
  const claim = build.request.source;
  if (claim.commit === null) {
    if (raw.length !== 0)
      throw new WorkerError(
        'SOURCE_COMMIT_MISMATCH',
        'a commit object was sent for a source without a commit',
      );
    return { epoch: 0, raw: null };
  }
  const format: ObjectFormat = claim.objectFormat;
  let id: string;
  let tree: string;
  let epoch: number;
  try {
    id = computeCommitId(raw, format);
    const parsed = parseCommitObject(raw);
    tree = parsed.tree;
    epoch = sourceDateEpoch(parsed);
  } catch (e) {
    throw refusal(e, 'SOURCE_COMMIT_MISMATCH', 'the commit object is malformed');
  }
  if (id !== claim.commit)
    throw new WorkerError(
      'SOURCE_COMMIT_MISMATCH',
      `the commit object hashes to ${id}, not to the claimed commit ${claim.commit}`,
      { path: 'source.commit' },
    );
  if (tree !== claim.tree)
    throw new WorkerError(
      'SOURCE_COMMIT_MISMATCH',
      `commit ${id} names tree ${tree}, not the claimed tree ${claim.tree}`,
      { path: 'source.tree' },
    );
  return { epoch, raw };
}

async function checkWorkdir(layout: WorkspaceLayout, workdir: string): Promise<string> {
  const bad = (why: string): WorkerError =>
    new WorkerError('WORKDIR_INVALID', `work directory ${JSON.stringify(workdir)} ${why}`, {
      path: 'workdir',
    });
  if (
    workdir !== '.' &&
    (workdir.startsWith('/') || workdir.split('/').some((s) => s === '' || s === '.' || s === '..'))
  )
    throw bad('must be "." or a relative path without ".", ".." or empty segments');
  let dir = layout.src;
  // Each component must be a real directory: a symlink could lead the build out of the tree.
  for (const part of workdir === '.' ? [] : workdir.split('/')) {
    dir = join(dir, part);
    const st = await lstat(dir).catch(() => undefined);
    if (st === undefined) throw bad('does not exist in the source');
    if (!st.isDirectory()) throw bad('is not a directory in the source');
  }
  return dir;
}

/** The build handler of a worker with context `ctx`. */
export function createBuildHandler(ctx: WorkerContext): BuildHandler {
  return async (build, report) => {
    try {
      return await runBuild(ctx, build, report);
    } catch (err) {
      if (err instanceof WorkerError || isProtocolError(err)) return { ok: false, error: err };
      throw err;
    }
  };
}

async function runBuild(
  ctx: WorkerContext,
  build: ReceivedBuild,
  report: BuildReporter,
): Promise<BuildOutcome> {
  const startedOn = new Date();
  const timer = new PhaseTimer('receiving');
  const layout = workspaceLayout(ctx.workspace);
  const claim = build.request.source;
  const config = await readConfig(build, ctx.image);
  const { epoch, raw: commitRaw } = await checkCommit(build);
  // Tag, signatures and workflow token: checked before the source arrives, recorded in provenance.
  const origin = await checkOrigin(build.request, commitRaw);

  await extractTar(build.stream('source'), layout.src, {
    symlinks: 'inside',
    mtime: epoch,
    limits: SOURCE_ARCHIVE_LIMITS,
  }).catch((e: unknown) => {
    throw refusal(e, 'SOURCE_ARCHIVE_INVALID', 'the source archive was refused');
  });
  timer.next('verifying-source');
  report.phase('verifying-source');
  // The same check the host can run: files -> tree id, commit object -> commit id -> tree.
  const source = await verifySourceTree(layout.src, {
    commit: claim.commit,
    tree: claim.tree,
    objectFormat: claim.objectFormat,
    commitObject: commitRaw,
    ...(claim.repository !== null ? { repository: claim.repository } : {}),
  }).catch((e: unknown) => {
    if (
      e instanceof ProvenanceError &&
      (e.code === 'SOURCE_TREE_MISMATCH' || e.code === 'SOURCE_COMMIT_MISMATCH')
    )
      throw new WorkerError(e.code, e.message, {
        path: e.code === 'SOURCE_TREE_MISMATCH' ? 'source.tree' : 'source.commit',
        cause: e,
      });
    throw refusal(e, 'SOURCE_ARCHIVE_INVALID', 'the source cannot be hashed');
  });
  const workdirPath = await checkWorkdir(layout, build.request.workdir);
  // The build gets a work tree as a depth-1 checkout gives: written from the verified files and
  // commit object only, after their check.
  let git: GitWorkspace | null = null;
  if (claim.commit !== null && commitRaw !== null) {
    timer.next('writing-git');
    git = await writeGitWorkspace({
      root: layout.src,
      commit: claim.commit,
      commitObject: commitRaw,
      tree: claim.tree,
      objectFormat: claim.objectFormat,
      repository: claim.repository,
    }).catch((e: unknown) => {
      throw new WorkerError('WORKER_INTERNAL', `cannot write the work tree's .git: ${String(e)}`, {
        cause: e,
      });
    });
  }

  timer.next('receiving-dependencies');
  if (build.request.inputs.deps > 0) {
    report.phase('receiving', 'dependencies');
    await extractTar(build.stream('deps'), layout.deps, {
      symlinks: 'refuse',
      limits: DEPS_ARCHIVE_LIMITS,
    }).catch((e: unknown) => {
      throw refusal(e, 'DEPENDENCY_INVALID', 'the dependency set was refused');
    });
  } else {
    for await (const _ of build.stream('deps'));
    await mkdir(layout.deps, { recursive: true });
  }
  timer.next('verifying-dependencies');
  report.phase('verifying-dependencies');
  const dependencies = await readLockedDependencies(workdirPath, config.language, {
    workdir: build.request.workdir,
  }).catch((e: unknown) => {
    throw refusal(e, 'DEPENDENCY_INVALID', 'the lockfile cannot be read');
  });
  const depEnv = await checkDependencies(layout, dependencies, config).catch((e: unknown) => {
    // Bytes that are not what the lockfile pins are a mismatch; anything else makes the set unusable.
    const mismatch =
      e instanceof ProvenanceError &&
      ['DEPENDENCY_DIGEST_MISMATCH', 'DEPENDENCY_MISSING', 'DEPENDENCY_UNEXPECTED_FILE'].includes(
        e.code,
      );
    throw refusal(
      e,
      mismatch ? 'DEPENDENCY_MISMATCH' : 'DEPENDENCY_INVALID',
      mismatch
        ? 'the dependency set does not match the lockfile'
        : 'the dependencies cannot be used',
    );
  });

  for (const d of [layout.home, layout.tmp, layout.cache, layout.out])
    await mkdir(d, { recursive: true });
  if (ctx.jail) {
    // The jailed command writes where the build expects to; the bundle's folder stays the
    // worker's alone.
    await chmod(layout.out, 0o700);
    await giveToBuildUser(
      [layout.src, layout.deps, layout.verifiedDeps, layout.home, layout.tmp, layout.cache],
      ctx.jail.uid,
      ctx.jail.gid,
    );
  }
  // The index holds the files' stat data as the build will find them (owner included).
  if (git !== null) await writeGitIndex(git, ctx.jail);
  const toolEnv = toolchainEnv(ctx.env);
  const env = buildEnvironment({
    toolchain: toolEnv,
    layout,
    sourceDateEpoch: epoch,
    dependencies: depEnv,
    config: config.input.env,
  });
  timer.next('building');
  report.phase('building', config.input.cmd.slice(0, 200));
  const timeoutS = config.timeout ?? DEFAULT_BUILD_TIMEOUT_S;
  // The toolchain does not change during the build: identify it (hashing its binaries) meanwhile.
  const toolchainFound = detectToolchain(config.language, env).then(
    (t) => ({ ok: true as const, t }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const result = await runCommand({
    cmd: config.input.cmd,
    cwd: workdirPath,
    env,
    timeoutMs: timeoutS * 1000,
    signal: build.signal,
    onLine: (l) => report.log(l),
    ...(ctx.jail ? { jail: ctx.jail } : {}),
  });
  if (result.cancelled)
    throw build.signal.reason instanceof Error
      ? build.signal.reason
      : new ProtocolError('PROTOCOL_CANCELLED', 'the build was cancelled');
  if (result.timedOut || result.outOfMemory || result.exitCode !== 0) {
    const e = result.timedOut
      ? new WorkerError(
          'BUILD_TIMEOUT',
          `the build command ran longer than its limit of ${timeoutS} s and was killed`,
        )
      : result.outOfMemory
        ? new WorkerError(
            'BUILD_OUT_OF_MEMORY',
            'the build command was killed for exceeding the memory limit',
          )
        : new WorkerError(
            'BUILD_FAILED',
            result.signal
              ? `the build command was killed by ${result.signal}`
              : `the build command exited with status ${result.exitCode}`,
          );
    e.exitCode = result.exitCode;
    e.signal = result.signal;
    e.logTail = result.tail;
    return { ok: false, error: e };
  }

  timer.next('collecting-outputs');
  report.phase('collecting-outputs');
  const outputs = await collectOutputs(layout.src, build.request.workdir, config.output.files);
  const found = await toolchainFound;
  if (!found.ok)
    throw new WorkerError(
      'WORKER_INTERNAL',
      `cannot identify the toolchain: ${(found.e as Error).message}`,
      {
        cause: found.e,
      },
    );
  const toolchain = found.t;
  const facts = await ctx.facts.catch((e: unknown) => {
    throw new WorkerError('ATTESTATION_FAILED', `the NSM cannot be used: ${(e as Error).message}`, {
      cause: e,
    });
  });
  const statement = buildStatement({
    source,
    config,
    workdir: build.request.workdir,
    dependencies,
    toolchain,
    outputs: outputs.map((o) => ({ name: o.name, sha256: o.sha256 })),
    image: {
      name: ctx.image.name,
      version: ctx.image.version,
      language: ctx.image.language,
      ...facts.pcrs,
    },
    nonce: build.request.nonce,
    isolation: facts.isolation,
    nsm: facts.nsmInfo,
    backend: ctx.backend,
    builderVersion: ctx.builderVersion,
    invocationId: randomUUID(),
    startedOn,
    finishedOn: new Date(),
    buildLogSha256: createHash('sha256').update(result.log).digest('hex'),
    byproducts: origin,
    ...(git !== null ? { workspace: { git: git.record } } : {}),
    timings: timer.done(),
  });
  const provenance = serializeStatement(statement);

  // A sealed builder key: unsealed only now that the build command has exited.
  let signed: { envelope: Uint8Array; publicKey: Uint8Array } | undefined;
  if (build.request.signing !== undefined) {
    report.phase('attesting', 'unsealing the builder key');
    const signer = await unsealBuilderKey(facts.nsm, build, provenance);
    signed = { envelope: await signProvenance(signer, provenance), publicKey: signer.spki };
  }
  report.phase('attesting');
  let attestation: Uint8Array;
  try {
    attestation = await facts.nsm.attest({
      userData: sha256(provenance),
      nonce: fromHex(build.request.nonce, 'nonce'),
      // The document vouches for the key the envelope was signed with.
      ...(signed !== undefined ? { publicKey: signed.publicKey } : {}),
    });
  } catch (e) {
    if (e instanceof NsmError || (e as { code?: unknown }).code !== undefined)
      return {
        ok: false,
        error: new WorkerError(
          'ATTESTATION_FAILED',
          `the NSM did not attest: ${(e as Error).message}`,
          { cause: e },
        ),
      };
    throw e;
  }
  const bundleFile = join(layout.out, 'bundle.tar.gz');
  const written = await writeBundle(bundleFile, {
    provenance,
    ...(signed !== undefined ? { envelope: signed.envelope } : {}),
    attestation,
    log: new Uint8Array(result.log.buffer, result.log.byteOffset, result.log.length),
    artifacts: outputs.map((o) => ({ name: o.name, file: o.file, executable: o.executable })),
  });
  return {
    ok: true,
    bundleFile,
    bundleSize: written.bytes,
    subjects: outputs.map((o) => ({ name: o.name, sha256: o.sha256 })),
  };
}

/** Hex of the attestation's user_data for given provenance bytes (for logs and tests). */
export function userDataOf(provenance: Uint8Array): string {
  return toHex(sha256(provenance));
}
