/**
 * A job's checkout for action tests: a real git repository with a build.json whose build needs no
 * toolchain download (a shell command writing files), committed and optionally tagged, as
 * actions/checkout leaves it (a detached HEAD at the commit).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { tempDirSync } from '../temp.js';

/** Environment for git in tests: fixed identity and dates, no user or system config. */
export const CHECKOUT_GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: tmpdir(),
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_AUTHOR_DATE: '2026-01-02T03:04:05+0000',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_COMMITTER_DATE: '2026-01-02T03:04:05+0000',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LC_ALL: 'C',
};

/** A build.json whose command writes `out/hello.txt` and `out/VERSION` (no dependencies). */
export function simpleBuildJson(extra: Record<string, unknown> = {}): string {
  return (
    JSON.stringify(
      {
        language: 'node',
        input: {
          cmd: 'mkdir -p out && printf "hello from the enclave\\n" > out/hello.txt && printf "1.0.0\\n" > out/VERSION',
        },
        output: { files: ['out/*'] },
        ...extra,
      },
      null,
      2,
    ) + '\n'
  );
}

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    env: CHECKOUT_GIT_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .toString('utf8')
    .trim();
}

export interface Checkout {
  dir: string;
  commit: string;
  tree: string;
  /** Writes files into the work tree without committing them. */
  write(files: Record<string, string>): void;
  /** Commits the work tree; returns the new commit. */
  commit_(message: string): string;
}

/** A repository with `files` committed (build.json defaults to `simpleBuildJson()`), HEAD detached. */
export function makeCheckout(
  files: Record<string, string> = {},
  opts: { tag?: string } = {},
): Checkout {
  const dir = tempDirSync('action-checkout-');
  const write = (fs: Record<string, string>): void => {
    for (const [p, content] of Object.entries(fs)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), content);
    }
  };
  git(dir, ['init', '--quiet', '--initial-branch=main']);
  write({ 'build.json': simpleBuildJson(), 'README.md': '# hello\n', ...files });
  const commitAll = (message: string): string => {
    git(dir, ['add', '--all']);
    git(dir, ['commit', '--quiet', '--allow-empty', '-m', message]);
    const c = git(dir, ['rev-parse', 'HEAD']);
    git(dir, ['checkout', '--quiet', '--detach', c]);
    return c;
  };
  let commit = commitAll('first');
  if (opts.tag !== undefined) git(dir, ['tag', opts.tag]);
  const checkout: Checkout = {
    dir,
    get commit() {
      return commit;
    },
    get tree() {
      return git(dir, ['rev-parse', 'HEAD^{tree}']);
    },
    write,
    commit_(message) {
      commit = commitAll(message);
      return commit;
    },
  };
  return checkout;
}
