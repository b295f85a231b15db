/**
 * diffoscope (reproducible-builds.org) as a deep comparer of differing artifacts, when it is
 * installed. Bounded in time and output; when it is absent, fails or times out, the report is
 * simply left out.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { which } from '../provenance/node.js';
import { printable } from '../util/printable.js';
import type { FileComparer } from './types.js';

/** Time allowed for one comparison. */
export const DIFFOSCOPE_TIMEOUT_MS = 120_000;
/** Longest report kept (the rest is cut with a note). */
export const MAX_DIFFOSCOPE_OUTPUT_BYTES = 64 * 1024;
/** Time allowed for all comparisons of one comparer (one verification) together. */
export const DIFFOSCOPE_TOTAL_TIMEOUT_MS = 600_000;
/** Files larger than this are not handed to diffoscope. */
export const MAX_DIFFOSCOPE_INPUT_BYTES = 512 * 1024 ** 2;

export interface DiffoscopeOptions {
  /** Environment (PATH) to find and run diffoscope with; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Budget for all comparisons together; once spent, the comparer returns null. */
  totalTimeoutMs?: number;
  maxOutputBytes?: number;
}

/** The path of an executable `diffoscope` on PATH, or null. */
export async function findDiffoscope(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  return which('diffoscope', env);
}

interface Run {
  code: number | null;
  stdout: string;
  truncated: boolean;
  timedOut: boolean;
}

function run(
  exe: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  max: number,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Own process group, so that a timeout also ends the tools diffoscope started.
    const child = spawn(exe, args, { env, stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    let timedOut = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (size >= max) {
        truncated = true;
        return;
      }
      chunks.push(b.subarray(0, max - size));
      if (b.length > max - size) truncated = true;
      size += Math.min(b.length, max - size);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(chunks).toString('utf8'), truncated, timedOut });
    });
  });
}

/** Each line escaped (see `printable`): the report quotes untrusted content. Newlines are kept. */
function sanitize(s: string): string {
  return s
    .split('\n')
    .map((l) => printable(l, Number.MAX_SAFE_INTEGER))
    .join('\n');
}

/** Names of the two sides as the comparer's caller gives them, when they are safe directory names. */
function sideNames(sides: readonly [string, string] | undefined): readonly [string, string] {
  const ok = (n: string): boolean => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(n);
  return sides !== undefined && ok(sides[0]) && ok(sides[1]) && sides[0] !== sides[1]
    ? sides
    : ['majority', 'dissent'];
}

/**
 * A FileComparer that runs `diffoscope --text - <majority> <dissent>` and returns its text report
 * (file names shown as `majority/<path>` and `dissent/<path>`, or under the names in `sides`), or
 * null when diffoscope is not installed, finds no difference, fails or produces nothing before
 * the timeout.
 */
export function diffoscopeComparer(opts: DiffoscopeOptions = {}): FileComparer {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? DIFFOSCOPE_TIMEOUT_MS;
  const max = opts.maxOutputBytes ?? MAX_DIFFOSCOPE_OUTPUT_BYTES;
  let budget = opts.totalTimeoutMs ?? DIFFOSCOPE_TOTAL_TIMEOUT_MS;
  let exe: Promise<string | null> | undefined;
  return async (path, majority, dissent, sides) => {
    const [left, right] = sideNames(sides);
    exe ??= findDiffoscope(env);
    const bin = await exe;
    if (bin === null || budget <= 0) return null;
    if (majority.length > MAX_DIFFOSCOPE_INPUT_BYTES || dissent.length > MAX_DIFFOSCOPE_INPUT_BYTES)
      return null;
    const dir = await mkdtemp(join(tmpdir(), 'tee-compile-diffoscope-'));
    try {
      // Keep the file's own name: diffoscope recognises formats partly by extension.
      const name = basename(path) || 'artifact';
      const a = join(dir, left, name);
      const b = join(dir, right, name);
      await mkdir(join(dir, left));
      await mkdir(join(dir, right));
      await writeFile(a, majority);
      await writeFile(b, dissent);
      let r: Run;
      const started = performance.now();
      try {
        r = await run(
          bin,
          ['--text', '-', '--no-progress', a, b],
          env,
          Math.min(timeoutMs, budget),
          max,
        );
      } catch {
        return null;
      } finally {
        budget -= performance.now() - started;
      }
      // Exit 1 means "differences found"; 0 none; anything else is diffoscope's own failure.
      if (!r.timedOut && r.code !== 1) return null;
      if (r.stdout.trim() === '') return null;
      let text = sanitize(
        r.stdout.split(a).join(`${left}/${path}`).split(b).join(`${right}/${path}`),
      );
      if (r.truncated) text += `\n… (report cut at ${max} bytes)`;
      if (r.timedOut) text += '\n… (diffoscope stopped: out of time)';
      return text;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}
