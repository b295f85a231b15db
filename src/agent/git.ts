/**
 * Running real git for the agent: cloning a `repo_url` and reading the configuration of an
 * uploaded repository. git runs with prompts off, only the allowed transports, a time limit and
 * the job's cancellation; its whole process group is killed on either.
 */
import { spawn } from 'node:child_process';
import { AgentError } from './errors.js';
import { diskUsage } from './fsutil.js';
import { isCommitId } from './fields.js';

/** Output kept from one git command (for error messages). */
const MAX_GIT_OUTPUT_BYTES = 64 * 1024;
/** How often a clone's size is checked against its limit. */
const CLONE_SIZE_CHECK_MS = 1000;

export interface GitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface GitOptions {
  cwd?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Transports git may use (GIT_ALLOW_PROTOCOL). */
  protocols?: string[];
}

/** Runs `git args…`; never throws for a non-zero exit (the caller decides). */
export function runGit(args: string[], opts: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, {
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GIT_TERMINAL_PROMPT: '0',
        GIT_ASKPASS: 'true',
        SSH_ASKPASS: 'true',
        GIT_LFS_SKIP_SMUDGE: '1',
        GIT_ALLOW_PROTOCOL: (opts.protocols ?? ['https']).join(':'),
        GIT_NO_REPLACE_OBJECTS: '1',
        LC_ALL: 'C',
      },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outN = 0;
    let errN = 0;
    child.stdout.on('data', (b: Buffer) => {
      if ((outN += b.length) <= MAX_GIT_OUTPUT_BYTES) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      if ((errN += b.length) <= MAX_GIT_OUTPUT_BYTES) err.push(b);
    });
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(kill, opts.timeoutMs);
    opts.signal?.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', kill);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** The last meaningful line of git's stderr, for an error message. */
function gitReason(r: GitResult): string {
  if (r.signal) return `git was stopped (${r.signal})`;
  const lines = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return (
    lines.filter((l) => /^(fatal|error):/.test(l)).at(-1) ??
    lines.at(-1) ??
    `git exited with ${r.code}`
  );
}

export interface CloneOptions {
  depth: number;
  timeoutMs: number;
  maxBytes: number;
  allowHttp: boolean;
  signal: AbortSignal;
}

/**
 * Clones `url` at `ref` (a branch, a tag, a full commit id, or null for the default branch) into
 * `dest` and checks the commit out, detached. Shallow (`depth`) where the server can; git's dumb
 * HTTP protocol cannot, and then the clone is full. Refused past `maxBytes` on disk.
 */
export async function cloneRepository(
  url: string,
  ref: string | null,
  dest: string,
  opts: CloneOptions,
): Promise<void> {
  const started = Date.now();
  const left = (): number => Math.max(1, opts.timeoutMs - (Date.now() - started));
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort();
  opts.signal.addEventListener('abort', onAbort, { once: true });
  let tooBig = false;
  const watch = setInterval(() => {
    void diskUsage(dest).then((n) => {
      if (n > opts.maxBytes) {
        tooBig = true;
        ctl.abort();
      }
    });
  }, CLONE_SIZE_CHECK_MS);
  const g = (args: string[], cwd?: string): Promise<GitResult> =>
    runGit(args, {
      timeoutMs: left(),
      signal: ctl.signal,
      protocols: opts.allowHttp ? ['https', 'http'] : ['https'],
      ...(cwd === undefined ? {} : { cwd }),
    });
  const fail = (what: string, r: GitResult): AgentError => {
    if (opts.signal.aborted) return new AgentError('AGENT_CANCELLED', 'cancelled during the clone');
    if (tooBig)
      return new AgentError(
        'AGENT_CLONE_FAILED',
        `the repository is larger than ${opts.maxBytes} bytes`,
      );
    if (Date.now() - started >= opts.timeoutMs)
      return new AgentError(
        'AGENT_CLONE_FAILED',
        `${what} took longer than ${opts.timeoutMs / 1000} s`,
      );
    return new AgentError('AGENT_CLONE_FAILED', `${what}: ${gitReason(r)}`);
  };
  try {
    const commit = ref !== null && isCommitId(ref);
    const base = [
      '-c',
      'core.hooksPath=/dev/null',
      'clone',
      '--quiet',
      '--no-checkout',
      '--no-tags',
    ];
    const named = ref !== null && !commit ? ['--branch', ref, '--single-branch'] : [];
    let r = await g([...base, `--depth=${opts.depth}`, ...named, '--', url, dest]);
    if (r.code !== 0 && /does not support shallow/.test(r.stderr)) {
      // Dumb HTTP (a static file server) cannot serve a shallow clone.
      r = await g([...base, ...named, '--', url, dest]);
    }
    if (r.code !== 0) throw fail('clone failed', r);
    let target = 'HEAD';
    if (commit) {
      target = ref;
      const has = await g(['cat-file', '-e', `${ref}^{commit}`], dest);
      if (has.code !== 0) {
        r = await g(['fetch', '--quiet', `--depth=${opts.depth}`, 'origin', ref], dest);
        if (r.code !== 0 && /does not support shallow/.test(r.stderr))
          r = await g(['fetch', '--quiet', 'origin', ref], dest);
        if (r.code !== 0) throw fail(`commit ${ref} could not be fetched`, r);
      }
    }
    r = await g(
      ['-c', 'core.hooksPath=/dev/null', 'checkout', '--quiet', '--detach', target, '--'],
      dest,
    );
    if (r.code !== 0) throw fail('checkout failed', r);
  } finally {
    clearInterval(watch);
    opts.signal.removeEventListener('abort', onAbort);
  }
}
