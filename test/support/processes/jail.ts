/**
 * tee-jail (enclave/jail/) built with its own Makefile once per test process, and the probe that
 * attacks it (jail-probe.c), into a folder other users can reach (the jailed build user must be
 * able to run what the tests give it).
 */
import { execFile } from 'node:child_process';
import { chmod, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../temp.js';

const JAIL_DIR = fileURLToPath(new URL('../../../enclave/jail/', import.meta.url));
const PROBE_SRC = fileURLToPath(new URL('./jail-probe.c', import.meta.url));
const run = promisify(execFile);

/** Whether this process can jail (making namespaces and changing user need root). */
export const CAN_JAIL = process.getuid?.() === 0;

let binDir: Promise<string> | undefined;
let built: Promise<string> | undefined;
let probe: Promise<string> | undefined;

function bin(): Promise<string> {
  binDir ??= (async () => {
    const dir = await tempDir('tc-jail-bin-');
    await chmod(dir, 0o755);
    return dir;
  })();
  return binDir;
}

/** Path of a freshly built tee-jail (its Makefile: -Wall -Wextra -Werror -Wconversion). */
export function buildJail(): Promise<string> {
  built ??= (async () => {
    const dir = await bin();
    await run('make', ['-s', '-C', JAIL_DIR, `OUT=${dir}`, 'CC=gcc']);
    return join(dir, 'tee-jail');
  })();
  return built;
}

/** Path of the built probe: `jail-probe <root-only file> <host TCP port>`. */
export function buildProbe(): Promise<string> {
  probe ??= (async () => {
    const file = join(await bin(), 'jail-probe');
    await run('gcc', ['-Wall', '-Wextra', '-Werror', '-o', file, PROBE_SRC]);
    return file;
  })();
  return probe;
}

/** The probe's report as name -> "ok" | errno number (as a string). */
export function parseProbe(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
}

/** Processes (not this one) whose command line contains `text`. */
export async function processesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(text)) found.push(Number(e));
  }
  return found;
}
