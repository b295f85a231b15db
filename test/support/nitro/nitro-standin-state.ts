/**
 * The state of the stand-in Nitro host, shared by the stand-in nitro-cli, the stand-in vsock bridge
 * and the tests: one directory (named by `NITRO_CLI_STANDIN_STATE`) holding the host's enclave
 * pool, one record per running enclave, and a log of every nitro-cli invocation.
 *
 * Where nitro-cli keeps one daemonised enclave process per enclave with a socket under
 * /run/nitro_enclaves (aws-nitro-enclaves-cli `src/enclave_proc_comm.rs`), the stand-in keeps a
 * record per enclave and the worker's process group stands for the enclave: an enclave whose
 * worker has exited is gone, as a real enclave ends when its command exits
 * (aws-nitro-enclaves-sdk-bootstrap `init/init.c`).
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** The environment variable naming the state directory. */
export const STATE_ENV = 'NITRO_CLI_STANDIN_STATE';
/**
 * The user the stand-in runs as. nitro-cli lists and terminates only the enclaves whose process
 * sockets the caller may open (`enclave_proc_connect_to_all` skips sockets it may not connect to),
 * so another user's enclaves hold CIDs and pool resources without appearing in
 * describe-enclaves.
 */
export const USER_ENV = 'NITRO_CLI_STANDIN_USER';
/** The vsock port the enclave images listen on (behind socat, see enclave/shared/entrypoint.sh). */
export const WORKER_VSOCK_PORT = 5000;

/** The host: its enclave pool (allocator.yaml) and what runs inside an enclave. */
export interface StandinConfig {
  /** The instance id, from which enclave ids are made (`<instance>-enc<slot>`). */
  instanceId: string;
  /** The CPU pool as cores, each the list of its hardware threads (SMT siblings). */
  cores: number[][];
  /** Hugepage memory reserved for enclaves. */
  memoryMiB: number;
  /** Hugepage size: enclave memory is allocated in these units. */
  hugepageMiB: number;
  /** Node binary and worker script the enclave runs. */
  node: string;
  workerEntry: string;
  /** IAM role of the host (PCR3 of the simulated attestations). */
  simulatedRole: string;
  /** tee-jail, when the worker is to jail its build command as the images do (needs root). */
  jail?: string;
}

/** Measurements as describe-enclaves prints them (a BTreeMap: keys sorted). */
export interface RecordMeasurements {
  HashAlgorithm: string;
  PCR0: string;
  PCR1: string;
  PCR2: string;
}

/** One running enclave. */
export interface EnclaveRecord {
  name: string;
  id: string;
  /** Slot uid in hex: the part of the id after `-enc`. */
  slot: string;
  user: string;
  /** The worker's pid, which is also its process group. */
  pid: number;
  cid: number;
  cpuIds: number[];
  memoryMiB: number;
  debug: boolean;
  state: 'RUNNING' | 'TERMINATING';
  eifPath: string;
  measurements: RecordMeasurements;
  imageName: string;
  imageVersion: string;
  metadata: Record<string, unknown>;
  /** vsock port -> loopback TCP port the worker listens on. */
  ports: Record<string, number>;
}

/** The current user of the stand-in. */
export function standinUser(env: NodeJS.ProcessEnv = process.env): string {
  return env[USER_ENV] ?? 'root';
}

const configFile = (dir: string): string => join(dir, 'config.json');
const enclavesDir = (dir: string): string => join(dir, 'enclaves');
const recordFile = (dir: string, slot: string): string => join(enclavesDir(dir), `${slot}.json`);

/** Creates the state directory with `config`. */
export function initState(dir: string, config: StandinConfig): void {
  mkdirSync(enclavesDir(dir), { recursive: true });
  writeFileSync(configFile(dir), JSON.stringify(config, null, 2));
}

/** Reads the host configuration. */
export function readConfig(dir: string): StandinConfig {
  return JSON.parse(readFileSync(configFile(dir), 'utf8')) as StandinConfig;
}

/** Changes the host configuration (tests swap the worker, shrink the pool, …). */
export function updateConfig(dir: string, change: Partial<StandinConfig>): void {
  writeFileSync(configFile(dir), JSON.stringify({ ...readConfig(dir), ...change }, null, 2));
}

/** Every enclave record, alive or not. */
export function allRecords(dir: string): EnclaveRecord[] {
  const out: EnclaveRecord[] = [];
  for (const f of readdirSync(enclavesDir(dir)).sort()) {
    if (!f.endsWith('.json')) continue;
    try {
      out.push(JSON.parse(readFileSync(join(enclavesDir(dir), f), 'utf8')) as EnclaveRecord);
    } catch {
      // Being written or removed by another invocation.
    }
  }
  return out;
}

/** Writes a record. */
export function writeRecord(dir: string, rec: EnclaveRecord): void {
  writeFileSync(recordFile(dir, rec.slot), JSON.stringify(rec, null, 2));
}

/** Removes a record. */
export function removeRecord(dir: string, rec: EnclaveRecord): void {
  rmSync(recordFile(dir, rec.slot), { force: true });
}

/** Where an enclave's console output (the worker's stdout/stderr) goes. */
export function consoleFile(dir: string, slot: string): string {
  return join(enclavesDir(dir), `${slot}.console`);
}

/**
 * True while the enclave's worker runs: its pid exists, is not a zombie, and is still this
 * enclave's worker (pids are reused; the worker carries `--enclave-id <id>` on its command line).
 */
export function isAlive(rec: Pick<EnclaveRecord, 'pid' | 'id'>): boolean {
  let stat: string;
  let cmdline: string;
  try {
    stat = readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    cmdline = readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && cmdline.split('\0').includes(rec.id);
}

/** The records of enclaves still running; the records of ended ones are removed. */
export function liveRecords(dir: string): EnclaveRecord[] {
  const live: EnclaveRecord[] = [];
  for (const r of allRecords(dir)) {
    if (isAlive(r)) live.push(r);
    else removeRecord(dir, r);
  }
  return live;
}

/** The pids of every process descended from `pid` (the build commands a worker started). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(d));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Ends an enclave: kills its worker and everything the worker started, whatever process group
 * those are in (the build command runs in a group of its own), as terminating a real enclave
 * ends everything in it.
 */
export function killEnclave(rec: Pick<EnclaveRecord, 'pid' | 'id'>): void {
  if (!isAlive(rec)) return;
  for (const p of [rec.pid, ...descendants(rec.pid)])
    for (const target of [-p, p]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Not a group leader, or gone already.
      }
    }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Runs `fn` holding the host lock (nitro-cli serialises through the driver; the stand-in through
 * this file). A lock left by a dead process is taken over.
 */
export function withLock<T>(dir: string, fn: () => T): T {
  const lock = join(dir, 'lock');
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let text: string;
      try {
        text = readFileSync(lock, 'utf8');
      } catch (r) {
        // Released between our attempt and this read: try again at once.
        if ((r as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw r;
      }
      const holder = Number(text || NaN);
      if (Number.isInteger(holder) && holder > 0 && !existsSync(`/proc/${holder}`))
        rmSync(lock, { force: true });
      else sleepSync(10);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Appends one invocation (its arguments and user) to the call log. */
export function logCall(dir: string, argv: string[], user: string): void {
  appendFileSync(join(dir, 'calls.jsonl'), JSON.stringify({ argv, user }) + '\n');
}

/** Every nitro-cli invocation so far, oldest first. */
export function readCalls(dir: string): { argv: string[]; user: string }[] {
  const file = join(dir, 'calls.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { argv: string[]; user: string });
}
