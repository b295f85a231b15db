// The pinned snapshots of the real-project corpus (README.md): fetching, checking and turning
// one into the repository at the upstream commit. Shared by run.mjs and depset-check.mjs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = fileURLToPath(new URL('.', import.meta.url));
export const root = join(here, '..', '..');
export const projects = JSON.parse(readFileSync(join(here, 'projects.json'), 'utf8'));
export const corpus =
  process.env.TEE_COMPILE_CORPUS ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tee-compile', 'corpus');

export const sh = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    .toString()
    .trim();

/** The snapshot's files, fetched with snapshot.sh when missing; the archive's SHA-256 checked. */
export function snapshot(p) {
  const tar = join(corpus, `${p.name}.tar.gz`);
  const commit = join(corpus, `${p.name}.commit`);
  if (!existsSync(tar) || !existsSync(commit))
    sh('bash', [join(here, 'snapshot.sh'), p.repository, p.commit, corpus, p.name], {
      stdio: 'inherit',
    });
  const sum = createHash('sha256').update(readFileSync(tar)).digest('hex');
  if (sum !== p.archiveSha256)
    throw new Error(`${tar}: SHA-256 ${sum}, projects.json pins ${p.archiveSha256}`);
  return { tar, commit };
}

/** The repository at the pinned commit, shallow (its parents absent), from the snapshot. */
export function materialize(p, snap, dir) {
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (...args) => sh('git', ['-C', dir, ...args], { env });
  sh('mkdir', ['-p', dir]);
  git('init', '-q');
  sh('tar', ['-xzf', snap.tar, '-C', dir]);
  // Committed files a .gitignore names are part of the tree too.
  git('add', '-A', '-f');
  // Submodules: an archive has no entry for them, the tree does (a gitlink, mode 160000).
  for (const [path, commit] of Object.entries(p.gitlinks ?? {}))
    git('update-index', '--add', '--cacheinfo', `160000,${commit},${path}`);
  const tree = git('write-tree');
  if (tree !== p.tree) throw new Error(`${p.name}: the snapshot is tree ${tree}, not ${p.tree}`);
  const commit = git('hash-object', '-t', 'commit', '-w', snap.commit);
  if (commit !== p.commit) throw new Error(`${p.name}: commit object ${commit}, not ${p.commit}`);
  git('update-ref', 'HEAD', commit);
  writeFileSync(join(dir, '.git', 'shallow'), `${commit}\n`);
  // Packed, as a clone's objects are (actions/checkout fetches one pack): `git add` left one loose
  // object per file, which a clone never has. After the shallow file: the parents are absent.
  git('repack', '-a', '-d', '-q');
  git('remote', 'add', 'origin', p.repository);
}
