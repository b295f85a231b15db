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

/** The commit id, its tree, object format and work directory of a checkout, without the status. */
async function resolveCheckout(
  dir: string,
  opts: ReadGitSourceOptions,
): Promise<{ top: string; workdir: string; format: ObjectFormat; commit: string }> {
  const inside = await git(dir, ['rev-parse', '--is-inside-work-tree'], {
    ...opts,
    allowFail: true,
  });
  if (inside.code !== 0 || text(inside.stdout) !== 'true') {
    throw provenanceError(
      'SOURCE_NOT_GIT',
      `${dir} is not inside a git work tree; tee-compile builds committed sources: run \`git init\`, commit, and try again`,
    );
  }
  const top = text((await git(dir, ['rev-parse', '--show-toplevel'], opts)).stdout);
  const rel = relative(await realpath(top), await realpath(dir));
  const workdir = rel === '' ? '.' : rel.split(sep).join('/');
  const fmt = text((await git(dir, ['rev-parse', '--show-object-format'], opts)).stdout);
  if (fmt !== 'sha1' && fmt !== 'sha256') {
    throw provenanceError('GIT_FAILED', `unknown git object format ${JSON.stringify(fmt)}`);
  }
  const rev = opts.rev ?? 'HEAD';
  const c = await git(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
    ...opts,
    allowFail: true,
  });
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
  const out = (await git(dir, ['ls-tree', '-r', '-z', '--full-tree', commit], opts)).stdout;
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
  const { top, workdir, format, commit } = await resolveCheckout(dir, opts);
  const raw = (await git(top, ['cat-file', 'commit', commit], opts)).stdout;
  const commitObject = new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const parsed = parseCommitObject(commitObject);
  const tree = text((await git(top, ['rev-parse', '--verify', `${commit}^{tree}`], opts)).stdout);
  if (parsed.tree !== tree) {
    throw provenanceError(
      'GIT_FAILED',
      `git reports tree ${tree} for ${commit}, but its commit object names ${parsed.tree}`,
    );
  }
  refuseSubmodules(await findSubmodules(top, commit, opts));
  const changes = await workTreeChanges(top, opts);
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
  if (repository === undefined) {
    const remote = await git(top, ['config', '--get', 'remote.origin.url'], {
      ...opts,
      allowFail: true,
    });
    if (remote.code === 0)
      repository = normalizeRepositoryUrl(text(remote.stdout), { remote: true }) ?? undefined;
  }
  if (repository !== undefined) source.repository = repository;
  return source;
}
