/**
 * Reading a source from a git checkout with the real git: commit, tree, object format, raw
 * commit object, repository URL, dirty state. Node only.
 */
import { realpath } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { listSome, provenanceError } from '../errors.js';
import { firstLine, gitEnv, runTool } from '../exec.js';
import { parseCommitObject } from './git-object.js';
import { normalizeRepositoryUrl } from './repository-url.js';
import type { GitSource, ObjectFormat } from '../types.js';

export interface GitOptions {
  /** The git executable (default `git` from PATH). */
  git?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs git in `dir`; a failure is GIT_FAILED unless `allowFail`. */
export async function git(
  dir: string,
  args: readonly string[],
  opts: GitOptions & { allowFail?: boolean; input?: string } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  let r;
  try {
    const o: Parameters<typeof runTool>[2] = { cwd: dir, env: gitEnv(opts.env) };
    if (opts.input !== undefined) o.input = opts.input;
    r = await runTool(opts.git ?? 'git', ['-c', 'core.quotepath=off', ...args], o);
  } catch (err) {
    throw provenanceError(
      'GIT_FAILED',
      `cannot run git: ${(err as Error).message}; install git`,
      undefined,
      err,
    );
  }
  if (r.code !== 0 && opts.allowFail !== true) {
    throw provenanceError(
      'GIT_FAILED',
      `git ${args[0] ?? ''} failed in ${dir}: ${firstLine(r.stderr) || `exit ${r.code}`}`,
    );
  }
  return r;
}

function text(b: Buffer): string {
  return b.toString('utf8').trim();
}

export interface ReadGitSourceOptions extends GitOptions {
  /** Accept uncommitted or untracked changes (default false: SOURCE_DIRTY). The commit is read either way. */
  allowDirty?: boolean;
  /** Repository URL to record instead of the `origin` remote's. */
  repository?: string;
  /** Commit to read (default HEAD). */
  rev?: string;
}

/**
 * The commit id, object format and work directory of a checkout, without the status: two git
 * calls, run at once (the second fails outside a repository too; the first says which).
 */
async function resolveCheckout(
  dir: string,
  opts: ReadGitSourceOptions,
): Promise<{ top: string; workdir: string; format: ObjectFormat; commit: string }> {
  const rev = opts.rev ?? 'HEAD';
  const [where, c] = await Promise.all([
    git(dir, ['rev-parse', '--is-inside-work-tree', '--show-toplevel', '--show-object-format'], {
      ...opts,
      allowFail: true,
    }),
    git(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { ...opts, allowFail: true }),
  ]);
  const [inside, top, fmt] = where.stdout.toString('utf8').split('\n');
  if (where.code !== 0 || inside !== 'true' || top === undefined || top === '') {
    throw provenanceError(
      'SOURCE_NOT_GIT',
      `${dir} is not inside a git work tree; tee-compile builds committed sources: run \`git init\`, commit, and try again`,
    );
  }
  const rel = relative(await realpath(top), await realpath(dir));
  const workdir = rel === '' ? '.' : rel.split(sep).join('/');
  if (fmt !== 'sha1' && fmt !== 'sha256') {
    throw provenanceError('GIT_FAILED', `unknown git object format ${JSON.stringify(fmt)}`);
  }
  if (c.code !== 0) {
    throw provenanceError(
      'SOURCE_NOT_GIT',
      rev === 'HEAD'
        ? `the repository at ${top} has no commit yet; commit the source first`
        : `${rev} does not name a commit in ${top}`,
    );
  }
  return { top, workdir, format: fmt, commit: text(c.stdout) };
}

/** Paths of submodules (gitlinks, mode 160000) in a commit's tree. */
export async function findSubmodules(
  dir: string,
  commit: string,
  opts: GitOptions = {},
): Promise<string[]> {
  return submodulesIn(await listTree(dir, commit, opts));
}

/**
 * `git ls-tree -r -l -z --full-tree` of a commit: every blob (with its size), link and gitlink of
 * its tree.
 */
export function listTree(dir: string, commit: string, opts: GitOptions = {}): Promise<Buffer> {
  return git(dir, ['ls-tree', '-r', '-l', '-z', '--full-tree', commit], opts).then((r) => r.stdout);
}

function submodulesIn(out: Buffer): string[] {
  const found: string[] = [];
  let start = 0;
  for (let i = out.indexOf(0); i >= 0; i = out.indexOf(0, start)) {
    if (out.subarray(start, start + 7).toString('latin1') === '160000 ') {
      const rec = out.subarray(start, i);
      found.push(rec.subarray(rec.indexOf(9) + 1).toString('utf8'));
    }
    start = i + 1;
  }
  return found;
}

/** Refuses a tree with submodules: the worker recomputes the tree from files, which a gitlink is not. */
export function refuseSubmodules(paths: readonly string[]): void {
  if (paths.length === 0) return;
  throw provenanceError(
    'SOURCE_SUBMODULE',
    `the source contains git submodules (${listSome(paths)}); tee-compile cannot verify a submodule's content inside the enclave: vendor it into the repository (e.g. \`git rm --cached <path>\` and commit its files)`,
    paths[0],
  );
}

/** Changed, deleted or untracked (non-ignored) paths of the work tree, from `git status`. */
export async function workTreeChanges(dir: string, opts: GitOptions = {}): Promise<string[]> {
  const r = await git(
    dir,
    [
      '--no-optional-locks',
      'status',
      '--porcelain=v1',
      '-z',
      '--untracked-files=normal',
      '--ignore-submodules=none',
    ],
    opts,
  );
  const records = r.stdout
    .toString('utf8')
    .split('\0')
    .filter((s) => s !== '');
  const paths: string[] = [];
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    paths.push(rec.slice(3));
    if (rec[0] === 'R' || rec[0] === 'C') i++; // renames carry the old path as the next record
  }
  return paths;
}

/**
 * Reads the source identity of the checkout containing `dir`: the commit (HEAD unless `rev`),
 * its tree id, the object format, the raw commit object, the `origin` remote normalised to
 * `https://host/owner/repo`, whether the work tree is dirty, and `workdir` (the path of `dir`
 * inside the repository). Refuses submodules (SOURCE_SUBMODULE) and, unless `allowDirty`, a
 * dirty work tree (SOURCE_DIRTY).
 */
export async function readGitSource(
  dir: string,
  opts: ReadGitSourceOptions = {},
): Promise<GitSource> {
  return (await readGitCheckout(dir, opts)).source;
}

/**
 * `readGitSource`, with the commit's tree listing (`git ls-tree -r -l -z --full-tree`) it read on
 * the way and the work tree's top folder, for `gitTreeArchive`'s `listing` and `worktree`. Once
 * the commit is known, its five reads (the commit object, its tree id, the listing, the status,
 * the remote) run at once.
 */
export async function readGitCheckout(
  dir: string,
  opts: ReadGitSourceOptions = {},
): Promise<{ source: GitSource; listing: Buffer; top: string }> {
  const { top, workdir, format, commit } = await resolveCheckout(dir, opts);
  const [rawOut, treeOut, listing, changes, remote] = await Promise.all([
    git(top, ['cat-file', 'commit', commit], opts),
    git(top, ['rev-parse', '--verify', `${commit}^{tree}`], opts),
    listTree(top, commit, opts),
    workTreeChanges(top, opts),
    opts.repository === undefined
      ? git(top, ['config', '--get', 'remote.origin.url'], { ...opts, allowFail: true })
      : undefined,
  ]);
  const raw = rawOut.stdout;
  const commitObject = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const parsed = parseCommitObject(commitObject);
  const tree = text(treeOut.stdout);
  if (parsed.tree !== tree) {
    throw provenanceError(
      'GIT_FAILED',
      `git reports tree ${tree} for ${commit}, but its commit object names ${parsed.tree}`,
    );
  }
  refuseSubmodules(submodulesIn(listing));
  if (changes.length > 0 && opts.allowDirty !== true) {
    throw provenanceError(
      'SOURCE_DIRTY',
      `the work tree has uncommitted or untracked changes (${listSome(changes)}); commit or stash them (only the commit is built), or allow a dirty tree`,
      changes[0],
    );
  }
  const source: GitSource = {
    commit,
    tree,
    objectFormat: format,
    dirty: changes.length > 0,
    commitObject,
    workdir,
  };
  let repository =
    opts.repository === undefined
      ? undefined
      : (normalizeRepositoryUrl(opts.repository) ?? opts.repository);
  if (remote !== undefined && remote.code === 0)
    repository = normalizeRepositoryUrl(text(remote.stdout), { remote: true }) ?? undefined;
  if (repository !== undefined) source.repository = repository;
  return { source, listing, top };
}
