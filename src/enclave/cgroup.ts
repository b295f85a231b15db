/**
 * Memory bounds for the local backend: a cgroup v2 child when the memory controller is delegated
 * to us, else a cgroup v1 memory child, else an address-space rlimit. Every choice is recorded.
 * The cgroup is created under the caller's own cgroup, so a build never escapes the limits its
 * caller already has.
 */
import { readFile, mkdir, rmdir, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';

/** How memory is bounded (recorded in `IsolationReport.memory`). */
export type MemoryLimitKind = 'cgroup2' | 'cgroup1' | 'rlimit' | 'none';

/** A memory bound prepared for one enclave. */
export interface MemoryLimit {
  kind: MemoryLimitKind;
  limitBytes: number;
  /** The cgroup directory (cgroup kinds). */
  dir?: string;
  /** Where a process writes its pid to enter the cgroup (cgroup kinds). */
  procsFile?: string;
  notes: string[];
  /** OOM kills in the cgroup so far (0 without a cgroup). */
  oomKills(): Promise<number>;
  /** Removes the cgroup; waits a little for exiting processes to leave it. */
  remove(): Promise<void>;
}

interface Mount {
  point: string;
  fstype: string;
  superOptions: string[];
}

/** Mount points from /proc/self/mountinfo (fields per proc(5)). */
async function mounts(): Promise<Mount[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const point = pre[4]?.replace(/\\040/g, ' ');
    if (point === undefined || post[0] === undefined) continue;
    out.push({ point, fstype: post[0], superOptions: (post[2] ?? '').split(',') });
  }
  return out;
}

/** This process's cgroups: v2 path (`0::`) and the v1 path of each controller. */
async function ownCgroups(): Promise<{ v2?: string; v1: Map<string, string> }> {
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else for (const c of m[2]!.split(',')) v1.set(c, m[3]!);
  }
  return v2 === undefined ? { v1 } : { v2, v1 };
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

async function counter(file: string, key: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Removes a cgroup directory, waiting a little for exiting processes to leave it. */
export async function removeCgroupDir(dir: string): Promise<void> {
  // A cgroup can be removed only once its last process has been reaped.
  for (let i = 0; i < 50; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function tryCgroup2(
  name: string,
  bytes: number,
  notes: string[],
): Promise<MemoryLimit | undefined> {
  const own = await ownCgroups();
  if (own.v2 === undefined) return undefined;
  const mount = (await mounts()).find((m) => m.fstype === 'cgroup2');
  if (!mount) return undefined;
  const parent = join(mount.point, own.v2);
  const controllers = await readFile(join(parent, 'cgroup.subtree_control'), 'utf8').catch(
    () => '',
  );
  if (!controllers.split(/\s+/).includes('memory')) {
    notes.push('cgroup v2: the memory controller is not delegated to this process');
    return undefined;
  }
  const dir = join(parent, name);
  try {
    await mkdir(dir);
    await writeFile(join(dir, 'memory.max'), String(bytes));
    await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
  } catch (e) {
    notes.push(`cgroup v2: ${(e as Error).message}`);
    await removeCgroupDir(dir).catch(() => undefined);
    return undefined;
  }
  return {
    kind: 'cgroup2',
    limitBytes: bytes,
    dir,
    procsFile: join(dir, 'cgroup.procs'),
    notes,
    oomKills: () => counter(join(dir, 'memory.events'), 'oom_kill'),
    remove: () => removeCgroupDir(dir),
  };
}

async function tryCgroup1(
  name: string,
  bytes: number,
  notes: string[],
): Promise<MemoryLimit | undefined> {
  const own = await ownCgroups();
  const path = own.v1.get('memory');
  const mount = (await mounts()).find(
    (m) => m.fstype === 'cgroup' && m.superOptions.includes('memory'),
  );
  if (path === undefined || !mount) {
    notes.push('cgroup v1: no memory hierarchy is mounted');
    return undefined;
  }
  const dir = join(mount.point, path, name);
  try {
    await mkdir(dir);
    await writeFile(join(dir, 'memory.limit_in_bytes'), String(bytes));
    // With swap accounting, bound memory+swap too, or the build would swap instead of failing.
    if (await exists(join(dir, 'memory.memsw.limit_in_bytes')))
      await writeFile(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
  } catch (e) {
    notes.push(`cgroup v1: ${(e as Error).message}`);
    await removeCgroupDir(dir).catch(() => undefined);
    return undefined;
  }
  return {
    kind: 'cgroup1',
    limitBytes: bytes,
    dir,
    procsFile: join(dir, 'cgroup.procs'),
    notes,
    oomKills: () => counter(join(dir, 'memory.oom_control'), 'oom_kill'),
    remove: () => removeCgroupDir(dir),
  };
}

/**
 * Prepares a memory bound of `bytes` named `name`: cgroup v2, else cgroup v1, else `rlimit` (the
 * caller applies RLIMIT_AS to the process it starts). Never throws for lack of support.
 */
export async function createMemoryLimit(name: string, bytes: number): Promise<MemoryLimit> {
  const notes: string[] = [];
  const v2 = await tryCgroup2(name, bytes, notes);
  if (v2) return v2;
  const v1 = await tryCgroup1(name, bytes, notes);
  if (v1) return v1;
  notes.push('memory bounded per process with RLIMIT_AS (no writable memory cgroup)');
  return {
    kind: 'rlimit',
    limitBytes: bytes,
    notes,
    oomKills: () => Promise.resolve(0),
    remove: () => Promise.resolve(),
  };
}
