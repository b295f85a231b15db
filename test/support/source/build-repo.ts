/**
 * Small real git repositories for build tests: files written, committed with fixed identities and
 * dates (so ids are stable), optionally with the project in a subdirectory (a monorepo).
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (for its examples/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

/** Runs git in `dir`; returns stdout. */
export function git(dir: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    env: { ...process.env, ...GIT_ENV },
    encoding: 'utf8',
  }).trim();
}

export interface TestRepo {
  root: string;
  /** The project directory (root or a subdirectory). */
  dir: string;
  commit: string;
  remove(): Promise<void>;
}

/**
 * A repository with `files` (path -> content) committed, the project at `subdir` (default the
 * root). Files ending in `.sh` are executable.
 */
export async function makeRepo(files: Record<string, string>, subdir = '.'): Promise<TestRepo> {
  const root = await mkdtemp(join(tmpdir(), 'tc-repo-'));
  const dir = subdir === '.' ? root : join(root, subdir);
  for (const [p, content] of Object.entries(files)) {
    const full = join(dir, p);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content, { mode: p.endsWith('.sh') ? 0o755 : 0o644 });
  }
  git(root, ['init', '-q', '-b', 'main']);
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'test']);
  return {
    root,
    dir,
    commit: git(root, ['rev-parse', 'HEAD']),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** A repository holding a copy of one of examples/ at `examples/<name>`. */
export async function exampleRepo(name: string): Promise<TestRepo> {
  const root = await mkdtemp(join(tmpdir(), 'tc-repo-'));
  const dir = join(root, 'examples', name);
  await cp(join(REPO_ROOT, 'examples', name), dir, {
    recursive: true,
    filter: (src) => !/\/(node_modules|target|dist|bin)$/.test(src),
  });
  git(root, ['init', '-q', '-b', 'main']);
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', name]);
  return {
    root,
    dir,
    commit: git(root, ['rev-parse', 'HEAD']),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** A go project (no dependencies) whose build runs `cmd`: the cheapest real project for the worker. */
export function goProject(
  cmd: string,
  extra: Record<string, unknown> = {},
  outputs = ['out.txt'],
): Record<string, string> {
  return {
    'go.mod': 'module example.com/t\n\ngo 1.19\n',
    'build.json': JSON.stringify(
      { language: 'go', input: { cmd, env: {} }, output: { files: outputs }, ...extra },
      null,
      2,
    ),
  };
}
