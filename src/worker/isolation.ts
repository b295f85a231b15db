/**
 * What isolation the worker finds itself in, observed from inside rather than taken from the
 * host: network interfaces, whether the workspace is a mount of its own, the memory bound of its
 * cgroup (or rlimit), and its pid and user namespaces. This is what the provenance records.
 */
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { IsolationReport } from '../contracts/index.js';

/** An isolation report with what was observed. */
export interface ObservedIsolation extends IsolationReport {
  /** Memory limit found, in MiB (cgroup or RLIMIT_AS), when there is one. */
  memoryLimitMiB?: number;
  /** Network interfaces present (only `lo` in a fresh namespace). */
  interfaces?: string[];
}

const UNLIMITED = 2 ** 60;

async function read(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

interface CgroupPaths {
  v2?: string;
  v2Mount?: string;
  v1Memory?: string;
  v1Mount?: string;
}

async function cgroupPaths(): Promise<CgroupPaths> {
  const out: CgroupPaths = {};
  for (const line of (await read('/proc/self/cgroup')).split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out.v2 = m[3]!;
    else if (m[2]!.split(',').includes('memory')) out.v1Memory = m[3]!;
  }
  for (const line of (await read('/proc/self/mountinfo')).split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const point = line.slice(0, sep).split(' ')[4];
    const [fstype, , opts] = line.slice(sep + 3).split(' ');
    if (point === undefined) continue;
    if (fstype === 'cgroup2') out.v2Mount ??= point;
    if (fstype === 'cgroup' && (opts ?? '').split(',').includes('memory')) out.v1Mount ??= point;
  }
  return out;
}

/** The memory bound of this process's cgroup, with its kind, or undefined. */
async function cgroupLimit(): Promise<
  { kind: 'cgroup1' | 'cgroup2'; bytes: number; dir: string } | undefined
> {
  const p = await cgroupPaths();
  if (p.v1Memory !== undefined && p.v1Mount !== undefined) {
    const dir = join(p.v1Mount, p.v1Memory);
    const bytes = Number((await read(join(dir, 'memory.limit_in_bytes'))).trim());
    if (bytes > 0 && bytes < UNLIMITED) return { kind: 'cgroup1', bytes, dir };
  }
  if (p.v2 !== undefined && p.v2Mount !== undefined) {
    const dir = join(p.v2Mount, p.v2);
    const max = (await read(join(dir, 'memory.max'))).trim();
    if (/^\d+$/.test(max)) return { kind: 'cgroup2', bytes: Number(max), dir };
  }
  return undefined;
}

/**
 * OOM kills so far in the memory cgroup this process is in (0 when there is none): the kernel's
 * own count, read before and after the build to tell an out-of-memory kill from other deaths.
 */
export async function readOomKills(): Promise<number> {
  const c = await cgroupLimit();
  if (c === undefined) return 0;
  const file = c.kind === 'cgroup1' ? 'memory.oom_control' : 'memory.events';
  const m = /^oom_kill (\d+)$/m.exec(await read(join(c.dir, file)));
  return m ? Number(m[1]) : 0;
}

async function addressSpaceLimit(): Promise<number | undefined> {
  const m = /^Max address space\s+(\S+)/m.exec(await read('/proc/self/limits'));
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

async function isMountPoint(path: string): Promise<boolean> {
  for (const line of (await read('/proc/self/mountinfo')).split('\n')) {
    const point = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (point === path) return true;
  }
  return false;
}

/**
 * Observes the isolation of this process (simulated mode). `host` is what the backend says it set
 * up; its notes are kept, but every field is what the worker sees.
 */
export async function observeIsolation(
  workspace: string,
  host?: IsolationReport,
): Promise<ObservedIsolation> {
  const interfaces = Object.keys(networkInterfaces()).sort();
  const network = interfaces.every((i) => i === 'lo') ? 'netns' : 'none';
  const filesystem = (await isMountPoint(workspace)) ? 'mountns' : 'none';
  const notes: string[] = [];
  let memory = 'none';
  let memoryLimitMiB: number | undefined;
  const cg = await cgroupLimit();
  const as = await addressSpaceLimit();
  if (cg) {
    memory = cg.kind;
    memoryLimitMiB = Math.round(cg.bytes / 1024 / 1024);
  } else if (as !== undefined) {
    memory = 'rlimit';
    memoryLimitMiB = Math.round(as / 1024 / 1024);
  }
  if (process.pid === 1) notes.push('observed: own pid namespace (the worker is pid 1)');
  const uidMap = (await read('/proc/self/uid_map')).trim().split(/\s+/);
  if (uidMap.length >= 3 && !(uidMap[0] === '0' && uidMap[1] === '0' && uidMap[2] === '4294967295'))
    notes.push(`observed: user namespace (uid map ${uidMap.slice(0, 3).join(' ')})`);
  notes.push(`observed: network interfaces ${interfaces.join(', ') || 'none'}`);
  for (const n of host?.notes ?? []) notes.push(`host: ${n}`);
  const out: ObservedIsolation = {
    backend: 'local',
    network,
    filesystem,
    memory,
    notes,
    interfaces,
  };
  if (memoryLimitMiB !== undefined) out.memoryLimitMiB = memoryLimitMiB;
  return out;
}

/** The isolation of a Nitro Enclave: the enclave boundary itself. */
export function enclaveIsolation(): IsolationReport {
  return {
    backend: 'nitro',
    network: 'enclave',
    filesystem: 'enclave',
    memory: 'enclave',
    notes: [],
  };
}
