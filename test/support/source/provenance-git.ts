/** Real git repositories for provenance tests. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDirSync } from '../temp.js';

/** Environment for git in tests: fixed identity and dates, no user or system config. */
export const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_AUTHOR_DATE: '2024-01-02T03:04:05+0100',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_COMMITTER_DATE: '2024-01-02T03:04:05+0100',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LC_ALL: 'C',
};

/** Runs git in `dir`; returns stdout (trimmed when `raw` is false). */
export function git(
  dir: string,
  args: string[],
  opts: { raw?: boolean; input?: string } = {},
): string {
  const out = execFileSync('git', args, {
    cwd: dir,
    env: GIT_ENV,
    input: opts.input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 1 << 28,
  });
  return opts.raw === true ? out.toString('utf8') : out.toString('utf8').trim();
}

/** Runs git in `dir`, returning stdout bytes. */
export function gitBytes(dir: string, args: string[]): Buffer {
  return execFileSync('git', args, { cwd: dir, env: GIT_ENV, maxBuffer: 1 << 28 });
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'prov-'): string {
  return tempDirSync(prefix);
}

/** Writes files (path -> content) under `root`, creating directories. */
export function writeFiles(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), content);
  }
}

/** A new repository (optionally SHA-256) with the given files committed; returns its path. */
export function makeRepo(
  files: Record<string, string | Uint8Array>,
  opts: { objectFormat?: 'sha1' | 'sha256'; origin?: string; dir?: string } = {},
): string {
  const dir = opts.dir ?? tempDir('prov-repo-');
  git(dir, ['init', '-q', `--object-format=${opts.objectFormat ?? 'sha1'}`, '-b', 'main']);
  writeFiles(dir, files);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '--allow-empty', '-m', 'initial']);
  if (opts.origin !== undefined) git(dir, ['remote', 'add', 'origin', opts.origin]);
  return dir;
}
