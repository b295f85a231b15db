/**
 * Runs the build command: `bash -c <cmd>` in the work directory, with a fixed environment, in its
 * own process group (so a time-out or a cancel kills everything it started; in the jail, its own
 * pid namespace, which nothing escapes), streaming its output
 * line by line and keeping the whole log (bounded) for build.log.
 */
import { spawn } from 'node:child_process';
import { readOomKills } from './isolation.js';
import type { JailOptions } from './jail.js';
import { jailedCommand } from './jail.js';

/** build.log keeps at most this much; the rest is replaced by a marker. */
export const MAX_BUILD_LOG_BYTES = 64 * 1024 * 1024;
/** Lines returned as the tail of a failed build. */
export const LOG_TAIL_LINES = 40;
/** After the command exits, how long its output pipes may stay open (a daemon holding them). */
const PIPE_GRACE_MS = 2000;

export interface CommandOptions {
  cmd: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  /** Kills the command when aborted. */
  signal?: AbortSignal;
  /** Each line of output (stdout and stderr interleaved as they arrive). */
  onLine?: (line: string) => void;
  /** Called once the command's process exists (before it has done anything). */
  onSpawned?: () => void;
  /** Runs the command through tee-jail as another user (see jail.ts). */
  jail?: JailOptions;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Killed by the kernel for exceeding the memory limit of the cgroup it runs in. */
  outOfMemory: boolean;
  /** Exactly what the command wrote, in arrival order (bounded). */
  log: Buffer;
  tail: string[];
}

/** Kills a process group, ignoring one that is already gone. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** Runs the build command to completion (see the module comment). */
export async function runCommand(o: CommandOptions): Promise<CommandResult> {
  const oomBefore = await readOomKills();
  const [file, args] = o.jail ? jailedCommand(o.jail, o.cmd) : ['bash', ['-c', o.cmd]];
  const child = spawn(file, args, {
    cwd: o.cwd,
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  o.onSpawned?.();
  const chunks: Buffer[] = [];
  let logBytes = 0;
  let truncated = false;
  const tail: string[] = [];
  const pending = { out: '', err: '' };
  const line = (l: string): void => {
    tail.push(l);
    if (tail.length > LOG_TAIL_LINES) tail.shift();
    o.onLine?.(l);
  };
  const take = (which: 'out' | 'err') => (d: Buffer) => {
    if (logBytes + d.length <= MAX_BUILD_LOG_BYTES) {
      chunks.push(d);
      logBytes += d.length;
    } else if (!truncated) {
      truncated = true;
      chunks.push(
        Buffer.from(`\n[tee-compile: build.log truncated at ${MAX_BUILD_LOG_BYTES} bytes]\n`),
      );
    }
    const text = pending[which] + d.toString('utf8');
    const parts = text.split('\n');
    pending[which] = parts.pop() ?? '';
    for (const p of parts) line(p.endsWith('\r') ? p.slice(0, -1) : p);
  };
  child.stdout.on('data', take('out'));
  child.stderr.on('data', take('err'));

  let timedOut = false;
  let cancelled = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) killGroup(child.pid);
  }, o.timeoutMs);
  const onAbort = (): void => {
    cancelled = true;
    if (child.pid !== undefined) killGroup(child.pid);
  };
  if (o.signal?.aborted) onAbort();
  o.signal?.addEventListener('abort', onAbort, { once: true });

  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  // Listened for now: 'close' may come before the code below runs.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const first = await Promise.race([exit, spawnError]);
  if (first instanceof Error) {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    line(`tee-compile: cannot run ${file}: ${first.message}`);
    return {
      exitCode: null,
      signal: null,
      timedOut,
      cancelled,
      outOfMemory: false,
      log: Buffer.concat(chunks),
      tail,
    };
  }
  // Whatever the command left running in its group goes with it.
  if (child.pid !== undefined) killGroup(child.pid);
  await Promise.race([
    closed,
    new Promise<void>((r) => setTimeout(() => r(), PIPE_GRACE_MS).unref()),
  ]);
  child.stdout.destroy();
  child.stderr.destroy();
  clearTimeout(timer);
  o.signal?.removeEventListener('abort', onAbort);
  for (const which of ['out', 'err'] as const) if (pending[which] !== '') line(pending[which]);
  // The kernel kills the largest process of the cgroup, often a child of bash (which then exits
  // 137): any OOM kill during a failed build is the reason it failed.
  const failed = first.code !== 0;
  const outOfMemory = failed && !timedOut && !cancelled && (await readOomKills()) > oomBefore;
  return {
    exitCode: first.code,
    signal: first.signal,
    timedOut,
    cancelled,
    outOfMemory,
    log: Buffer.concat(chunks),
    tail,
  };
}
