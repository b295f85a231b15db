/**
 * The first phase of a build: the config, the commit object and the source. Nothing from the host
 * is taken on faith: the config is parsed and validated here; the commit id is recomputed from the
 * raw commit object and the tree id from the extracted files, and both must equal the claims.
 * The build then gets a work tree as a depth-1 checkout gives.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { extractTar } from '../archive/node.js';
import type { BuildConfig, ObjectFormat, SourceIdentity } from '../provenance/index.js';
import {
  ProvenanceError,
  computeCommitId,
  parseBuildConfigText,
  parseCommitObject,
  sourceDateEpoch,
} from '../provenance/index.js';
import type { HashedDir } from '../provenance/node.js';
import { verifySourceTree } from '../provenance/node.js';
import type { BuildReporter, ReceivedBuild } from '../protocol/index.js';
import { WorkerError } from '../protocol/index.js';
import type { WorkerImage } from './context.js';
import { SOURCE_ARCHIVE_LIMITS } from './context.js';
import type { WorkspaceLayout } from './environment.js';
import type { GitWorkspace } from './git-workspace.js';
import { writeGitWorkspace } from './git-workspace.js';
import type { CheckedOrigin } from './origin.js';
import { checkOrigin } from './origin.js';
import type { PhaseTimer } from './phase-timer.js';
import { refusal } from './refusal.js';

/**
 * Bytes of the source's small files held from the extraction until the work tree's `.git` is
 * written (the rest is read back from the files): a source of 5 025 files then skips 5 025 opens
 * and reads.
 */
const KEPT_SOURCE_BYTES = 64 * 1024 * 1024;

/** The checked source of a build, and what was learnt on the way. */
export interface ReceivedSource {
  config: BuildConfig;
  /** SOURCE_DATE_EPOCH of the commit (0 without a commit). */
  epoch: number;
  /** Tag, signatures and workflow token, recorded in the provenance. */
  origin: CheckedOrigin;
  source: SourceIdentity;
  /** The work directory inside the extracted source. */
  workdirPath: string;
  /** The work tree's .git, when the source has a commit. */
  git: GitWorkspace | null;
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

/** Receives and checks the config, the commit object and the source into `layout.src`. */
export async function receiveSource(
  image: WorkerImage,
  build: ReceivedBuild,
  report: BuildReporter,
  timer: PhaseTimer,
  layout: WorkspaceLayout,
): Promise<ReceivedSource> {
  const claim = build.request.source;
  const config = await readConfig(build, image);
  const { epoch, raw: commitRaw } = await checkCommit(build);
  // Tag and workflow token: checked before the source arrives; signatures are read later (origin.ts).
  const origin = await checkOrigin(build.request, commitRaw);

  // Each file's blob id is hashed as it is written: the tree id is then checked without reading
  // the files again (nothing else writes in the workspace before the check).
  const extracted = await extractTar(build.stream('source'), layout.src, {
    symlinks: 'inside',
    mtime: epoch,
    limits: SOURCE_ARCHIVE_LIMITS,
    blobIds: claim.objectFormat === 'sha1' ? 'sha1' : 'sha256',
    // Held for the work tree's `.git`, written next: not read back from the files.
    keepBytes: claim.commit !== null ? KEPT_SOURCE_BYTES : 0,
  }).catch((e: unknown) => {
    throw refusal(e, 'SOURCE_ARCHIVE_INVALID', 'the source archive was refused');
  });
  timer.next('verifying-source');
  report.phase('verifying-source');
  // The same check the host can run: files -> tree id, commit object -> commit id -> tree.
  let hashed: HashedDir | undefined;
  const source = await verifySourceTree(
    layout.src,
    {
      commit: claim.commit,
      tree: claim.tree,
      objectFormat: claim.objectFormat,
      commitObject: commitRaw,
      ...(claim.repository !== null ? { repository: claim.repository } : {}),
    },
    {
      ...(extracted.blobs !== undefined ? { known: extracted.blobs } : {}),
      onTree: (t) => (hashed = t),
    },
  ).catch((e: unknown) => {
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
      ...(extracted.blobs !== undefined ? { known: extracted.blobs } : {}),
      ...(hashed !== undefined ? { hashed } : {}),
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
  return { config, epoch, origin, source, workdirPath, git };
}
