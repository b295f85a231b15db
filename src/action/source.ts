/**
 * The build's inputs as the runner prepares them: the committed tree of the workspace's HEAD with
 * its `.git` (a one-commit shallow copy, so that the agent and the enclave can bind the commit:
 * the tree id is recomputed from the files and the commit id from the commit object), packed as a
 * deterministic .tar.gz; build.json as committed, wherever it is in the repository (its directory
 * is the build's workdir: the agent builds there, and the provenance records it); and the locked
 * dependencies of that directory fetched here, where the workflow's registry credentials are (the
 * enclave checks each one against the lockfile). Uncommitted changes in the workspace are never
 * sent.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { packDirectory, writeTarFile } from '../archive/node.js';
import type { BuildConfig } from '../provenance/index.js';
import { isProvenanceError, parseBuildConfigText } from '../provenance/index.js';
import { fetchDependencySet } from '../provenance/node.js';
import { readBoundedFile } from '../util/node.js';
import { ActionError } from './errors.js';

/** Largest build.json read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Time a git command gets. */
export const GIT_TIMEOUT_MS = 10 * 60_000;
/** Output kept from a git command for messages. */
const MAX_GIT_OUTPUT = 1024 * 1024;

/** The prepared inputs of one build. */
export interface PreparedSource {
  /** The one-commit copy of the repository. */
  dir: string;
  commit: string;
  tree: string;
  /** Directory of build.json relative to the repository root (`.` at the root), POSIX. */
  workdir: string;
  config: BuildConfig;
  /** build.json exactly as committed. */
  configText: string;
  /** The source archive (.tar.gz). */
  archive: { file: string; bytes: number; sha256: string };
  /** The dependency set (tar), or null when nothing is locked. */
  dependencies: { file: string; bytes: number; count: number } | null;
}

export interface PrepareOptions {
  /** The job's checkout (GITHUB_WORKSPACE). */
  workspace: string;
  /** build.json, relative to the workspace (the repository root), POSIX, inside it. */
  config: string;
  /** Scratch directory (created; the caller removes it). */
  tempDir: string;
  /** Environment of git and the package tools (proxies, registry credentials). */
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
}

function git(args: string[], cwd: string, o: PrepareOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      {
        cwd,
        env: { ...o.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
        maxBuffer: MAX_GIT_OUTPUT,
        timeout: GIT_TIMEOUT_MS,
        signal: o.signal,
      },
      (err, stdout, stderr) => {
        if (err === null) return resolve(stdout.trim());
        if (o.signal.aborted) return reject(o.signal.reason as Error);
        const detail = (stderr || err.message).trim().split('\n').slice(-3).join('; ');
        reject(
          new ActionError('SOURCE_FAILED', `git ${args[0] ?? ''} failed: ${detail}`, {
            cause: err,
          }),
        );
      },
    );
  });
}

async function headOf(o: PrepareOptions): Promise<string> {
  try {
    return await git(['rev-parse', '--verify', 'HEAD^{commit}'], o.workspace, o);
  } catch (e) {
    if (o.signal.aborted) throw e;
    throw new ActionError(
      'SOURCE_FAILED',
      `${o.workspace} is not a git checkout with a commit: add actions/checkout before this step (${(e as Error).message})`,
      { cause: e },
    );
  }
}

/**
 * Copies the workspace's HEAD commit (and nothing else: no other history, no uncommitted change)
 * into `dest` with git's own transport, so that the copy's `.git` holds exactly that commit.
 */
async function copyCommit(commit: string, dest: string, o: PrepareOptions): Promise<void> {
  await git(
    ['-c', 'init.defaultBranch=main', 'init', '--quiet', '--template=', dest],
    o.tempDir,
    o,
  );
  // Fetching one commit by id needs the serving side to allow it; it is our own checkout.
  await git(
    [
      'fetch',
      '--quiet',
      '--depth=1',
      '--no-tags',
      '--no-write-fetch-head',
      '--upload-pack=git -c uploadpack.allowAnySHA1InWant=true upload-pack',
      `file://${o.workspace}`,
      `${commit}:refs/tee-compile/source`,
    ],
    dest,
    o,
  );
  await git(
    ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', commit],
    dest,
    o,
  );
  await git(['update-ref', '-d', 'refs/tee-compile/source'], dest, o);
}

/**
 * Checks that every component of `workdir` is a directory of the committed tree, not a symbolic
 * link (the agent and the enclave refuse a workdir reached through one).
 */
async function checkWorkdir(dir: string, workdir: string, config: string): Promise<void> {
  let at = dir;
  for (const part of workdir === '.' ? [] : workdir.split('/')) {
    at = join(at, part);
    const st = await lstat(at).catch(() => undefined);
    if (st === undefined)
      throw new ActionError(
        'CONFIG_INVALID',
        `${config} is not in the committed tree: commit a build.json (or point the config input at it)`,
        { path: 'config' },
      );
    if (!st.isDirectory())
      throw new ActionError(
        'CONFIG_INVALID',
        `${config}: ${workdir} is not a directory of the committed tree (a symbolic link or a file)`,
        { path: 'config' },
      );
  }
}

async function readConfig(
  dir: string,
  path: string,
): Promise<{ config: BuildConfig; text: string }> {
  const file = join(dir, path);
  let text: string;
  try {
    text = (await readBoundedFile(file, MAX_CONFIG_BYTES)).toString('utf8');
  } catch (e) {
    const absent = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ActionError(
      'CONFIG_INVALID',
      absent
        ? `${path} is not in the committed tree: commit a build.json (or point the config input at it)`
        : `${path}: ${(e as Error).message}`,
      { path: 'config', cause: e },
    );
  }
  try {
    return { config: parseBuildConfigText(text, path), text };
  } catch (e) {
    if (!isProvenanceError(e)) throw e;
    throw new ActionError('CONFIG_INVALID', e.message, { path: e.path ?? 'config', cause: e });
  }
}

/** Prepares the source archive, build.json and the dependency set (see the module comment). */
export async function prepareSource(o: PrepareOptions): Promise<PreparedSource> {
  const workdir = posix.dirname(o.config);
  await mkdir(o.tempDir, { recursive: true });
  const commit = await headOf(o);
  const dir = join(o.tempDir, 'source');
  await rm(dir, { recursive: true, force: true });
  await copyCommit(commit, dir, o);
  const tree = await git(['rev-parse', 'HEAD^{tree}'], dir, o);
  await checkWorkdir(dir, workdir, o.config);
  const { config, text } = await readConfig(dir, o.config);

  const archiveFile = join(o.tempDir, 'source.tar.gz');
  let archive;
  try {
    // Directory entries too: git does not recognise a `.git` without its (possibly empty) `refs/`.
    archive = await writeTarFile(packDirectory(dir, { includeDirectories: true }), archiveFile, {
      gzip: true,
      level: 6,
    });
  } catch (e) {
    throw new ActionError('SOURCE_FAILED', `packing the source: ${(e as Error).message}`, {
      cause: e,
    });
  }

  const setDir = join(o.tempDir, 'dependencies');
  let dependencies: PreparedSource['dependencies'] = null;
  try {
    const fetched = await fetchDependencySet(join(dir, workdir), config.language, setDir, {
      workdir,
      allowUnpinned: config.allowUnpinnedDependencies === true,
      env: o.env,
    });
    if (fetched.files > 0) {
      const file = join(o.tempDir, 'dependencies.tar');
      const written = await writeTarFile(packDirectory(setDir), file);
      dependencies = { file, bytes: written.bytes, count: fetched.dependencies.length };
    }
  } catch (e) {
    if (o.signal.aborted) throw o.signal.reason as Error;
    throw new ActionError(
      'DEPENDENCIES_FAILED',
      `fetching the locked dependencies: ${(e as Error).message}`,
      isProvenanceError(e) && e.path !== undefined ? { path: e.path, cause: e } : { cause: e },
    );
  }
  return {
    dir,
    commit,
    tree,
    workdir,
    config,
    configText: text,
    archive: { file: archiveFile, bytes: archive.bytes, sha256: archive.sha256 },
    dependencies,
  };
}
