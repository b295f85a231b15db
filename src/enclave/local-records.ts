/**
 * The run records of the `local` backend. Each build's directories (`<state>/meta/<id>`, and
 * `<state>/builds/<id>` for an unisolated build, whose workspace is on disk) are named in a run
 * record (`<state>/run/<id>.json`) written before they are made, and removed with it when the
 * enclave ends (a workspace on disk is moved aside then and removed in the background, see
 * discardWorkspace). What a killed process left is found through
 * its record by `LocalBackend.cleanupOrphans`.
 */
import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { removeCgroupDir } from './cgroup.js';
import { EnclaveError } from './errors.js';

/** What one build of the local backend made, to be removed when it ends. */
export interface RunRecord {
  id: string;
  /** The sandbox's process group; absent until it is started. */
  pid?: number;
  workspace: string;
  meta: string;
  cgroup?: string;
}

/** Where the run record of enclave `id` lives. */
export function runRecordFile(stateDir: string, id: string): string {
  return join(stateDir, 'run', `${id}.json`);
}

/** Writes (or rewrites) a run record. */
export async function writeRunRecord(stateDir: string, rec: RunRecord): Promise<void> {
  await mkdir(join(stateDir, 'run'), { recursive: true, mode: 0o700 });
  await writeFile(runRecordFile(stateDir, rec.id), JSON.stringify(rec));
}

/** Removes what a run record names, then the record. */
export async function removeLeftovers(stateDir: string, rec: RunRecord): Promise<void> {
  // Only paths of this state directory, whatever the record says.
  const inside = (p: unknown, dir: string): p is string =>
    typeof p === 'string' && p === join(stateDir, dir, rec.id);
  if (inside(rec.workspace, 'builds')) await rm(rec.workspace, { recursive: true, force: true });
  if (inside(rec.meta, 'meta')) await rm(rec.meta, { recursive: true, force: true });
  // A cgroup directory goes with rmdir once its processes are gone.
  if (typeof rec.cgroup === 'string') await removeCgroupDir(rec.cgroup).catch(() => undefined);
  await rm(runRecordFile(stateDir, rec.id), { force: true });
}

/** Creates `dir` (0700) or checks that it is a directory of ours that nobody else can write in. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
    throw new EnclaveError(
      'ENCLAVE_START_FAILED',
      `the state directory ${dir} must be a directory owned by this user and writable by nobody else`,
    );
}

/** Kills a sandbox's process group (or the process alone when the group is gone). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Prefix of a finished build's workspace while it is being removed (inside `builds/`). */
export const REMOVING_PREFIX = '.removing-';

/**
 * Moves a finished build's workspace aside (a rename within `builds/`, which every sandbox sees
 * as an empty tmpfs, so no later build can read it) and removes it with a detached `rm`: the
 * enclave has ended when its worker has, not when a tree of tens of thousands of files is gone,
 * and the command that ran the build returns without waiting for it. What an interrupted
 * removal leaves is removed by `removeDiscarded` (from `cleanupOrphans`).
 */
export async function discardWorkspace(workspace: string, id: string): Promise<void> {
  const aside = join(dirname(workspace), `${REMOVING_PREFIX}${id}`);
  try {
    await rename(workspace, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    await rm(workspace, { recursive: true, force: true }).catch(() => undefined);
    return;
  }
  const inBackground = (): void =>
    void rm(aside, { recursive: true, force: true }).catch(() => undefined);
  try {
    const child = spawn('rm', ['-rf', '--', aside], { detached: true, stdio: 'ignore' });
    child.once('error', inBackground);
    child.unref();
  } catch {
    inBackground();
  }
}

/** Removes the workspaces whose removal a process did not finish (see discardWorkspace). */
export async function removeDiscarded(buildsDir: string): Promise<void> {
  const names = await readdir(buildsDir).catch(() => [] as string[]);
  for (const n of names)
    if (n.startsWith(REMOVING_PREFIX))
      await rm(join(buildsDir, n), { recursive: true, force: true }).catch(() => undefined);
}
