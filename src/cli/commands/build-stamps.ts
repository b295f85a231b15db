/**
 * Run stamps: a build's enclave is named after the command's process (`cli-<pid>.<start time>-…`).
 * At start, the command has the backend remove the enclaves (and the local backend's
 * directories) of earlier runs whose process is gone, e.g. killed with SIGKILL; never those of a
 * run still going, nor any enclave named otherwise.
 */
import { readFile } from 'node:fs/promises';
import type { EnclaveBackend } from '../../enclave/index.js';
import type { CliIo } from '../io.js';
import { writeLine } from '../io.js';

/**
 * This process as a build id part: `<pid>.<start time>` (field 22 of /proc/<pid>/stat, clock
 * ticks since boot), so that a later process with the same pid is not taken for it.
 */
export async function processStamp(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const start = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .at(22 - 3);
  return start !== undefined && /^\d+$/.test(start) ? `${pid}.${start}` : undefined;
}

/** The part of an enclave name or id that names the command run it belongs to. */
const RUN_STAMP = /(?:^|-)cli-(\d+)\.(\d+)-/;

/**
 * Whether the run that named an enclave `name` may still be going: true unless the name has a
 * run stamp whose process is gone (or is another process now). Enclaves named otherwise are
 * another program's: kept.
 */
async function runMayLive(name: string): Promise<boolean> {
  const m = RUN_STAMP.exec(name);
  if (m === null) return true;
  const pid = Number(m[1]);
  if (m[2] === '0') {
    // No start time could be read: only the pid tells.
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  }
  const now = await processStamp(pid);
  if (now !== undefined) return now === `${pid}.${m[2]}`;
  return existsProc(pid);
}

async function existsProc(pid: number): Promise<boolean> {
  try {
    await readFile(`/proc/${pid}/cmdline`);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Removes what earlier runs of this command left (their process is gone); never fails the build. */
export async function removeLeftovers(backend: EnclaveBackend, io: CliIo): Promise<void> {
  try {
    const removed = await backend.cleanupOrphans(({ name }) => runMayLive(name));
    for (const id of removed)
      writeLine(io.stderr, `tee-compile: removed ${id}, left by an earlier build that was killed`);
  } catch (e) {
    writeLine(
      io.stderr,
      `tee-compile: could not remove what earlier builds left: ${(e as Error).message}`,
    );
  }
}
