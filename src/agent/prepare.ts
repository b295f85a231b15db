/**
 * Preparing a job's source on the host: extracting an uploaded archive (with the safe extractors
 * of src/archive) or cloning a `repo_url`, into the job's `work/` directory.
 *
 * An uploaded repository's `.git` is the client's: its config could name commands git runs
 * (core.fsmonitor, filters, diff drivers) and its alternates or gitdir links could point at other
 * repositories on the host. It is reduced to object data and refs before git ever reads it.
 *
 * The job's `workdir` (where build.json is) must then be a real directory of the prepared source:
 * no symbolic link on the way (it could lead out of the source), and no `.git` of its own on the
 * way (git, run there, would read that repository's unsanitised config instead of the root's).
 */
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileChunks, extractTar, extractZip } from '../archive/node.js';
import { isArchiveError } from '../archive/index.js';
import { normalizeRepositoryUrl } from '../provenance/index.js';
import { AgentError } from './errors.js';
import { cloneRepository, runGit } from './git.js';
import type { JobRecord } from './job.js';

/** Time allowed to read an uploaded repository's config. */
const GIT_READ_TIMEOUT_MS = 30_000;

/** Where the prepared source is. */
export interface PreparedSource {
  /** The source root (contains build.json, and `.git` when the commit is bound). */
  dir: string;
  /** The repository URL of a `repo_url` job, recorded in the provenance. */
  repository: string | null;
}

export interface PrepareOptions {
  /** The job's input files. */
  inputs: { source: string | null };
  /** The job's scratch directory (created). */
  workDir: string;
  maxTreeBytes: number;
  clone: { depth: number; timeoutMs: number; allowHttp: boolean };
  signal: AbortSignal;
}

/** Extracts or clones the job's source into `workDir/src`. */
export async function prepareSource(rec: JobRecord, opts: PrepareOptions): Promise<PreparedSource> {
  await mkdir(opts.workDir, { recursive: true, mode: 0o750 });
  const dest = join(opts.workDir, 'src');
  if (rec.source.kind === 'git') {
    await cloneRepository(rec.source.repoUrl, rec.source.ref, dest, {
      depth: opts.clone.depth,
      timeoutMs: opts.clone.timeoutMs,
      allowHttp: opts.clone.allowHttp,
      maxBytes: opts.maxTreeBytes,
      signal: opts.signal,
    });
    // Recorded in the one normal form the verifier compares (the clone URL as given otherwise).
    const repository = normalizeRepositoryUrl(rec.source.repoUrl) ?? rec.source.repoUrl;
    return { dir: dest, repository };
  }
  const file = opts.inputs.source;
  if (file === null) throw new AgentError('AGENT_SOURCE_INVALID', 'the source archive is missing');
  const limits = { maxTotalBytes: opts.maxTreeBytes, maxEntryBytes: opts.maxTreeBytes };
  try {
    // Symlinks that stay inside the tree are part of many projects; links out are refused.
    if (rec.source.format === 'zip') await extractZip(file, dest, { limits, symlinks: 'inside' });
    else await extractTar(fileChunks(file), dest, { limits, symlinks: 'inside' });
  } catch (err) {
    if (isArchiveError(err))
      throw new AgentError('AGENT_SOURCE_INVALID', `source archive refused: ${err.message}`, {
        path: 'source',
        cause: err,
      });
    throw err;
  }
  const root = await sourceRoot(dest);
  await sanitizeGitDir(root);
  return { dir: root, repository: null };
}

/**
 * Checks `workdir` (already checked for its form) inside the prepared source `root`: refuses,
 * naming the field, a workdir that does not exist, is not a directory, passes through a symbolic
 * link, or holds a `.git` below the source root.
 */
export async function checkWorkdir(root: string, workdir: string): Promise<void> {
  const bad = (why: string): AgentError =>
    new AgentError('AGENT_SOURCE_INVALID', `workdir: '${workdir}' ${why}`, { path: 'workdir' });
  let dir = root;
  for (const part of workdir === '.' ? [] : workdir.split('/')) {
    dir = join(dir, part);
    const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'ENAMETOOLONG')
        return undefined;
      throw err;
    });
    if (st === undefined) throw bad('does not exist in the source');
    if (st.isSymbolicLink()) throw bad(`is not a directory in the source ('${part}' is a link)`);
    if (!st.isDirectory()) throw bad('is not a directory in the source');
    const nested = await lstat(join(dir, '.git')).then(
      () => true,
      () => false,
    );
    if (nested)
      throw bad(
        `has a .git of its own in '${part}' (a nested repository); send that repository itself`,
      );
  }
}

/**
 * The root of an extracted archive: the archive's single top-level directory when it has exactly
 * one (as `zip -r project.zip project/` and GitHub's archives have), else the extraction root.
 */
async function sourceRoot(dest: string): Promise<string> {
  const names = await readdir(dest);
  if (names.length === 1 && names[0] !== '.git') {
    const only = join(dest, names[0]!);
    if ((await lstat(only)).isDirectory()) return only;
  }
  return dest;
}

/** Files of `.git` that could make git run a command or read outside the repository. */
const GIT_UNSAFE = [
  'hooks',
  'config.worktree',
  'commondir',
  'worktrees',
  'modules',
  'info/attributes',
  'info/grafts',
  'objects/info/alternates',
  'objects/info/http-alternates',
  'refs/replace',
];

/**
 * Reduces an uploaded `.git` to what identifies the commit (objects, refs, HEAD, index): the
 * config is rewritten to the repository format alone, and hooks, alternates, worktree links and
 * replace refs are removed. A `.git` that is not a directory (a gitdir link) is refused.
 */
export async function sanitizeGitDir(root: string): Promise<void> {
  const gitDir = join(root, '.git');
  let st;
  try {
    st = await lstat(gitDir);
  } catch {
    return;
  }
  if (!st.isDirectory())
    throw new AgentError(
      'AGENT_SOURCE_INVALID',
      '.git is not a directory (a worktree or submodule link); send the repository itself',
      { path: 'source' },
    );
  const config = join(gitDir, 'config');
  // `--file` without `--includes` reads that one file and follows no include.
  const read = (key: string): Promise<string | null> =>
    runGit(['config', '--file', config, '--no-includes', '--get', key], {
      timeoutMs: GIT_READ_TIMEOUT_MS,
    }).then((r) => (r.code === 0 ? r.stdout.trim() : null));
  const version = await read('core.repositoryformatversion');
  const format = await read('extensions.objectformat');
  if (format !== null && format !== 'sha1' && format !== 'sha256')
    throw new AgentError('AGENT_SOURCE_INVALID', `unknown git object format '${format}'`, {
      path: 'source',
    });
  for (const rel of GIT_UNSAFE) await rm(join(gitDir, rel), { recursive: true, force: true });
  const lines = [
    '[core]',
    `\trepositoryformatversion = ${version === '1' || format === 'sha256' ? 1 : 0}`,
    '\tbare = false',
  ];
  if (format === 'sha256') lines.push('[extensions]', '\tobjectformat = sha256');
  await rm(config, { force: true });
  await writeFile(config, lines.join('\n') + '\n', { mode: 0o640 });
}
