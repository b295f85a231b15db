/**
 * The `local` backend: the worker runs as a child process in a sandbox (see ./sandbox.ts) with a
 * memory bound (./cgroup.ts) and a time bound, and attests with the software NSM (PCR0/1/2 = the
 * image's simulated measurements, PCR3 = the simulated IAM role, PCR4 = a simulated instance).
 *
 * The byte stream. The worker sits in a fresh network namespace with no route out, so it cannot
 * listen where the client can reach it. The backend therefore opens the listening socket itself,
 * on 127.0.0.1:0 in the host's namespace, and hands it to the worker over Node's IPC channel
 * (`child.send(msg, server)` passes the descriptor with SCM_RIGHTS; a socket keeps the namespace
 * it was created in). The client then connects with real TCP, exactly as it connects to the vsock
 * bridge of a Nitro host, while the worker and everything it starts still have no network: the one
 * socket they hold can only accept. The worker stops listening after its one connection.
 *
 * Leftovers. Each build's directories (`<state>/builds/<id>`, `<state>/meta/<id>`) are named in a
 * run record (`<state>/run/<id>.json`) written before they are made, and removed with it when the
 * enclave ends (the workspace is moved aside then and removed in the background). What a killed
 * process left is removed by `cleanupOrphans`.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { connect, createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { MemoryLimit } from './cgroup.js';
import { createMemoryLimit, removeCgroupDir } from './cgroup.js';
import { bundledWorker } from './worker-bundle.js';
import type { ImageCatalog } from '../catalog/index.js';
import { findImage } from '../catalog/index.js';
import { EnclaveError } from './errors.js';
import type { SandboxLevel } from './sandbox.js';
import { probeSandbox, sandboxCommand } from './sandbox.js';
import type {
  Enclave,
  EnclaveBackend,
  EnclaveExit,
  EnclaveSpec,
  EnclaveState,
  ImageRef,
  IsolationReport,
  OrphanKeep,
} from './types.js';

/**
 * The IAM role the local backend simulates by default: PCR3 is what a Nitro host with this
 * instance role would report. Override with `--simulated-role`.
 */
export const DEFAULT_SIMULATED_ROLE = 'arn:aws:iam::000000000000:role/tee-compile-local-builder';
/** The fixed workspace path: the same for every build, and the one the Nitro images use. */
export const WORKSPACE_PATH = '/tmp/tee-compile/build';
/** Smallest memory bound accepted: the worker (Node) itself needs about 100 MiB. */
export const MIN_LOCAL_MEMORY_MIB = 256;
/** How long the worker may take to start. */
export const WORKER_START_TIMEOUT_MS = 30_000;
/** Lines of the worker's own stderr kept for the exit message. */
const STDERR_TAIL_LINES = 40;

/** What the worker reads from `--image`: the image's descriptor, and for simulation its PCRs. */
export interface LocalImage {
  name: string;
  version: string;
  language: ImageRef['language'];
  toolchain: Record<string, string>;
  simulated: { pcr0: string; pcr1: string; pcr2: string };
}

export interface LocalBackendOptions {
  /** IAM role ARN whose PCR3 the software NSM reports. */
  simulatedRole?: string;
  /** Run without namespaces when the OS refuses them (recorded). Default false: refuse. */
  allowUnisolated?: boolean;
  /**
   * The worker script (default: the package's compiled `worker/main.js`, bundled into one file
   * under `stateDir` when esbuild is installed; see ./worker-bundle.ts).
   */
  workerEntry?: string;
  /** Node binary for the worker (default: this one). */
  nodePath?: string;
  /** Where per-build directories, records and the worker bundle live (default `<tmpdir>/tee-compile-<uid>`, private). */
  stateDir?: string;
  /** The fixed path the workspace appears at inside the sandbox. */
  workspacePath?: string;
  /** The image catalog to find images in (default: the package's enclave/images.json). */
  catalog?: ImageCatalog;
  /** Finds the image's descriptor and simulated PCRs (default: from `catalog`). */
  resolveImage?: (ref: ImageRef) => Promise<LocalImage>;
  /** Environment of the worker (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Each line the worker writes to its stdout/stderr (diagnostics, not the build log). */
  onWorkerOutput?: (line: string) => void;
  /** The util-linux `unshare` binary (default: from PATH). */
  unshare?: string;
}

/** Messages of the backend <-> worker IPC channel (local backend only). */
export type LocalIpcMessage =
  { type: 'ready' } | { type: 'listen'; isolation: IsolationReport } | { type: 'listening' };

/** Resolves an image from `catalog` (default: the package's). */
async function catalogImage(ref: ImageRef, catalog?: ImageCatalog): Promise<LocalImage> {
  const { loadImageCatalog } = await import('../catalog/node.js');
  const entry = findImage(catalog ?? (await loadImageCatalog()), {
    language: ref.language,
    name: ref.name,
    version: ref.version,
  });
  return {
    name: entry.name,
    version: entry.version,
    language: entry.language,
    toolchain: entry.toolchain,
    simulated: entry.simulated,
  };
}

/** The compiled worker next to this module (lib/worker/main.js). */
export function defaultWorkerEntry(): string {
  return fileURLToPath(new URL('../worker/main.js', import.meta.url));
}

function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
}

interface RunRecord {
  id: string;
  /** The sandbox's process group; absent until it is started. */
  pid?: number;
  workspace: string;
  meta: string;
  cgroup?: string;
}

/** The `local` backend (see the module comment). */
export class LocalBackend implements EnclaveBackend {
  readonly name = 'local' as const;
  private readonly stateDir: string;
  private readonly workspacePath: string;
  readonly simulatedRole: string;

  constructor(private readonly opts: LocalBackendOptions = {}) {
    // Per user: the state directory holds the worker script the backend runs, so no other user
    // may be able to write in it (a shared /tmp path could be planted).
    this.stateDir = opts.stateDir ?? join(tmpdir(), `tee-compile-${process.getuid?.() ?? 'user'}`);
    this.workspacePath = opts.workspacePath ?? WORKSPACE_PATH;
    this.simulatedRole = opts.simulatedRole ?? DEFAULT_SIMULATED_ROLE;
  }

  /** Starts a worker in a fresh sandbox; resolves when it listens. */
  async start(spec: EnclaveSpec): Promise<Enclave> {
    if (!(Number.isInteger(spec.memoryMiB) && spec.memoryMiB >= MIN_LOCAL_MEMORY_MIB))
      throw new EnclaveError(
        'ENCLAVE_SPEC_INVALID',
        `memory must be at least ${MIN_LOCAL_MEMORY_MIB} MiB for the local backend (got ${spec.memoryMiB})`,
        { path: 'memoryMiB' },
      );
    if (!(spec.timeoutMs > 0))
      throw new EnclaveError('ENCLAVE_SPEC_INVALID', 'timeoutMs must be positive', {
        path: 'timeoutMs',
      });
    if (spec.debug)
      throw new EnclaveError('ENCLAVE_SPEC_INVALID', 'the local backend has no debug mode', {
        path: 'debug',
      });
    const probe = await probeSandbox(this.opts.unshare);
    if (probe.level === 'none' && !this.opts.allowUnisolated)
      throw new EnclaveError(
        'ISOLATION_UNAVAILABLE',
        `this system refuses the namespaces the local backend isolates builds with (${probe.refusal ?? 'unknown reason'}); ` +
          'run as root, enable unprivileged user namespaces, or pass --allow-unisolated to build without isolation (recorded in the provenance)',
      );
    await ensurePrivateDir(this.stateDir);
    const image = await (
      this.opts.resolveImage ?? ((r: ImageRef) => catalogImage(r, this.opts.catalog))
    )(spec.image);
    const id = `local-${safeId(spec.buildId)}-${randomBytes(4).toString('hex')}`;
    const buildsDir = join(this.stateDir, 'builds');
    const workspace = join(buildsDir, id);
    const meta = join(this.stateDir, 'meta', id);
    const record: RunRecord = { id, workspace, meta };
    // Live before its record exists, so that no cleanup of this process takes it for a leftover;
    // the record before anything it names, so that whatever is made can be found again.
    LocalEnclave.live.add(id);
    let memory: MemoryLimit;
    try {
      await writeRunRecord(this.stateDir, record);
      await mkdir(workspace, { recursive: true, mode: 0o700 });
      await mkdir(meta, { recursive: true, mode: 0o700 });
      memory = await createMemoryLimit(`tee-compile-${id}`, spec.memoryMiB * 1024 * 1024);
      if (memory.dir) await writeRunRecord(this.stateDir, { ...record, cgroup: memory.dir });
    } catch (e) {
      await removeLeftovers(this.stateDir, record);
      LocalEnclave.live.delete(id);
      throw e;
    }
    const isolated = probe.level !== 'none';
    const isolation = isolationReport(
      probe.level,
      probe.notes,
      memory,
      spec,
      isolated ? this.workspacePath : workspace,
      !!this.opts.allowUnisolated,
    );
    const enclave = new LocalEnclave(id, spec, isolation, memory, [workspace, meta], this.stateDir);
    try {
      if (isolated) await mkdir(this.workspacePath, { recursive: true, mode: 0o755 });
      const imageFile = join(meta, 'image.json');
      await writeFile(imageFile, JSON.stringify(image));
      await enclave.launch({
        level: probe.level,
        node: this.opts.nodePath ?? process.execPath,
        entry: this.opts.workerEntry ?? (await bundledWorker(defaultWorkerEntry(), this.stateDir)),
        args: [
          '--listen',
          'ipc',
          '--nsm',
          'simulated',
          '--image',
          imageFile,
          '--workspace',
          isolated ? this.workspacePath : workspace,
          '--simulated-role',
          this.simulatedRole,
          '--simulated-instance-id',
          `i-${randomBytes(9).toString('hex').slice(0, 17)}`,
        ],
        workspace,
        workspaceTarget: this.workspacePath,
        hideDir: buildsDir,
        ...(this.opts.unshare !== undefined ? { unshare: this.opts.unshare } : {}),
        env: this.opts.env ?? process.env,
        ...(this.opts.onWorkerOutput ? { onOutput: this.opts.onWorkerOutput } : {}),
      });
    } catch (e) {
      await enclave.stop();
      throw e;
    }
    return enclave;
  }

  /**
   * Kills sandboxes left by a crashed process and removes their directories: those of every run
   * record of the state directory that neither this process runs nor `keep` keeps (ids, or a
   * test on the id, given as both `name` and `id`). Returns the ids removed.
   */
  async cleanupOrphans(keep: OrphanKeep = new Set()): Promise<string[]> {
    const runDir = join(this.stateDir, 'run');
    const names = await readdir(runDir).catch(() => [] as string[]);
    const removed: string[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      let rec: RunRecord;
      try {
        rec = JSON.parse(await readFile(join(runDir, n), 'utf8')) as RunRecord;
      } catch {
        continue;
      }
      if (typeof rec.id !== 'string' || `${rec.id}.json` !== n) continue;
      if (LocalEnclave.live.has(rec.id)) continue;
      if (typeof keep === 'function' ? await keep({ name: rec.id, id: rec.id }) : keep.has(rec.id))
        continue;
      if (rec.pid !== undefined) {
        const cmdline = await readFile(`/proc/${rec.pid}/cmdline`, 'utf8').catch(() => '');
        // Only a process that still is this sandbox (pids are reused) is killed.
        if (cmdline.includes(rec.id)) killGroup(rec.pid);
      }
      await removeLeftovers(this.stateDir, rec);
      removed.push(rec.id);
    }
    await removeDiscarded(join(this.stateDir, 'builds'));
    return removed;
  }
}

function runRecordFile(stateDir: string, id: string): string {
  return join(stateDir, 'run', `${id}.json`);
}

async function writeRunRecord(stateDir: string, rec: RunRecord): Promise<void> {
  await mkdir(join(stateDir, 'run'), { recursive: true, mode: 0o700 });
  await writeFile(runRecordFile(stateDir, rec.id), JSON.stringify(rec));
}

/** Removes what a run record names, then the record. */
async function removeLeftovers(stateDir: string, rec: RunRecord): Promise<void> {
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
async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
    throw new EnclaveError(
      'ENCLAVE_START_FAILED',
      `the state directory ${dir} must be a directory owned by this user and writable by nobody else`,
    );
}

function isolationReport(
  level: SandboxLevel,
  probeNotes: string[],
  memory: MemoryLimit,
  spec: EnclaveSpec,
  workspace: string,
  allowUnisolated: boolean,
): IsolationReport {
  const notes = [...probeNotes, ...memory.notes];
  if (level === 'userns')
    notes.push('user namespace (root mapped to the caller), pid namespace with its own /proc');
  if (level === 'rootns') notes.push('pid namespace with its own /proc');
  if (level === 'none')
    notes.push(
      'no namespaces: the build had the host network and file system (allowed with --allow-unisolated)',
    );
  notes.push(
    `memory limit ${spec.memoryMiB} MiB`,
    `time limit ${Math.round(spec.timeoutMs / 1000)} s`,
    `workspace ${workspace}`,
  );
  notes.push(`cpus not bounded (requested ${spec.cpus})`);
  if (allowUnisolated && level !== 'none')
    notes.push('--allow-unisolated was given but not needed');
  return {
    backend: 'local',
    network: level === 'none' ? 'none' : 'netns',
    filesystem: level === 'none' ? 'none' : 'mountns',
    memory: memory.kind,
    notes,
  };
}

/** `SIGKILL` for 9: the sandbox's shell reports a killed worker as status 128 + n. */
function signalName(n: number): string {
  const found = Object.entries(constants.signals).find(([, v]) => v === n);
  return found ? found[0] : `signal ${n}`;
}

function killGroup(pid: number): void {
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

interface LaunchOptions {
  level: SandboxLevel;
  node: string;
  entry: string;
  args: string[];
  workspace: string;
  workspaceTarget: string;
  hideDir: string;
  unshare?: string;
  env: NodeJS.ProcessEnv;
  onOutput?: (line: string) => void;
}

class LocalEnclave implements Enclave {
  /** Enclaves of this process, so that orphan cleanup never touches a live one. */
  static readonly live = new Set<string>();
  private child: ChildProcess | undefined;
  private port = 0;
  private connected = false;
  private stopRequested = false;
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  private stderrTail: string[] = [];
  private resolveExit!: (e: EnclaveExit) => void;
  private _state: EnclaveState = 'starting';
  readonly exited: Promise<EnclaveExit>;

  constructor(
    readonly id: string,
    readonly spec: EnclaveSpec,
    readonly isolation: IsolationReport,
    private readonly memory: MemoryLimit,
    private readonly dirs: string[],
    private readonly stateDir: string,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
    LocalEnclave.live.add(id);
  }

  get state(): EnclaveState {
    return this._state;
  }

  private get record(): string {
    return runRecordFile(this.stateDir, this.id);
  }

  async launch(o: LaunchOptions): Promise<void> {
    if (!existsSync(o.entry))
      throw new EnclaveError(
        'ENCLAVE_START_FAILED',
        `worker script not found: ${o.entry} (run npm run build)`,
      );
    const worker = [o.node, o.entry, ...o.args, '--enclave-id', this.id];
    let argv = sandboxCommand(o.level, {
      workspaceSource: o.workspace,
      workspaceTarget: o.workspaceTarget,
      hideDir: o.hideDir,
      command: worker,
      ...(o.unshare !== undefined ? { unshare: o.unshare } : {}),
    });
    if (this.memory.kind === 'rlimit')
      argv = ['prlimit', `--as=${this.memory.limitBytes}`, '--', ...argv];
    // Enter the cgroup before anything else runs, so every process of the build is in it.
    if (this.memory.procsFile)
      argv = ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', this.memory.procsFile, ...argv];
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: the timer and stop() kill the whole group.
      detached: true,
      env: o.env,
    });
    this.child = child;
    for (const s of [child.stdout!, child.stderr!]) {
      let buf = '';
      s.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          this.output(buf.slice(0, i), o.onOutput);
          buf = buf.slice(i + 1);
        }
      });
      s.on('end', () => buf && this.output(buf, o.onOutput));
    }
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    void closed.then((r) => this.onExit(r.code, r.signal));
    void spawnError.then((e) =>
      this.output(`could not start the worker: ${e.message}`, o.onOutput),
    );
    if (child.pid !== undefined)
      await writeRunRecord(this.stateDir, {
        id: this.id,
        pid: child.pid,
        workspace: o.workspace,
        meta: this.dirs[1]!,
        ...(this.memory.dir ? { cgroup: this.memory.dir } : {}),
      });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.kill();
    }, this.spec.timeoutMs);
    this.timer.unref();

    const failed = async (what: string): Promise<never> => {
      const exit = await Promise.race([
        this.exited,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref()),
      ]);
      throw new EnclaveError(
        'ENCLAVE_START_FAILED',
        `the local worker ${what}${exit ? ` (${exit.message})` : ''}${this.stderrTail.length ? `:\n${this.stderrTail.slice(-10).join('\n')}` : ''}`,
      );
    };
    await this.waitFor(child, 'ready', WORKER_START_TIMEOUT_MS).catch((e: Error) =>
      failed(e.message),
    );
    const server = await listenLoopback();
    this.port = (server.address() as AddressInfo).port;
    const handoff: LocalIpcMessage = { type: 'listen', isolation: this.isolation };
    child.send(handoff, server);
    try {
      await this.waitFor(child, 'listening', WORKER_START_TIMEOUT_MS).catch((e: Error) =>
        failed(e.message),
      );
    } finally {
      // The worker holds its own copy of the listening socket now.
      server.close();
    }
    this._state = 'running';
  }

  private output(line: string, sink?: (l: string) => void): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    sink?.(line);
  }

  private waitFor(
    child: ChildProcess,
    type: LocalIpcMessage['type'],
    timeoutMs: number,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error(`did not become ${type} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      const onMessage = (m: unknown): void => {
        if ((m as { type?: unknown } | null)?.type === type) done();
      };
      const onExit = (): void => done(new Error(`exited before it was ${type}`));
      const done = (err?: Error): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  connect(): Promise<Duplex> {
    if (this.connected)
      return Promise.reject(
        new EnclaveError('ENCLAVE_CONNECT_FAILED', 'connect() may be called only once'),
      );
    if (this._state !== 'running')
      return Promise.reject(
        new EnclaveError('ENCLAVE_CONNECT_FAILED', `the enclave is ${this._state}`),
      );
    this.connected = true;
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: this.port, noDelay: true });
      s.once('connect', () => {
        s.off('error', onError);
        resolve(s);
      });
      const onError = (e: Error): void =>
        reject(
          new EnclaveError('ENCLAVE_CONNECT_FAILED', `cannot reach the worker: ${e.message}`, {
            cause: e,
          }),
        );
      s.once('error', onError);
    });
  }

  private kill(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.child?.exitCode !== null || this.child?.signalCode !== null)
      return;
    killGroup(pid);
  }

  async stop(): Promise<void> {
    if (this.child === undefined || this.child.pid === undefined) {
      await this.cleanup();
      this.resolveExit({
        state: 'failed',
        reason: 'boot-failed',
        message: 'the worker never started',
      });
      return;
    }
    if (this._state !== 'stopped' && this._state !== 'failed') {
      this.stopRequested = true;
      this.kill();
    }
    await this.exited;
  }

  private async onExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const oom = (signal === 'SIGKILL' || code === 137) && (await this.memory.oomKills()) > 0;
    let exit: EnclaveExit;
    const status = signal ? `signal ${signal}` : `exit status ${code}`;
    const tail = this.stderrTail.slice(-5).join(' | ');
    if (this.stopRequested)
      exit = { state: 'stopped', reason: 'stopped', message: 'stopped by the host' };
    else if (this.timedOut)
      exit = {
        state: 'failed',
        reason: 'timeout',
        message: `the enclave reached its time limit of ${Math.round(this.spec.timeoutMs / 1000)} s and was killed`,
      };
    else if (oom)
      exit = {
        state: 'failed',
        reason: 'oom',
        message: `the worker was killed for exceeding the memory limit of ${this.spec.memoryMiB} MiB`,
      };
    else if (signal !== null || (code !== null && code > 128))
      exit = {
        state: 'failed',
        reason: 'killed',
        message: `the worker was killed (${signal ?? signalName(code! - 128)})`,
      };
    else if (this._state === 'starting')
      exit = {
        state: 'failed',
        reason: 'boot-failed',
        message: `the worker exited during start (${status})${tail ? `: ${tail}` : ''}`,
      };
    else
      exit = {
        state: code === 0 ? 'stopped' : 'failed',
        reason: 'exited',
        message:
          code === 0
            ? 'the worker exited after its build'
            : `the worker exited with ${status}${tail ? `: ${tail}` : ''}`,
      };
    exit.exitCode = code;
    exit.signal = signal;
    this._state = exit.state;
    await this.cleanup();
    this.resolveExit(exit);
  }

  private async cleanup(): Promise<void> {
    LocalEnclave.live.delete(this.id);
    await this.memory.remove().catch(() => undefined);
    const [workspace, meta] = this.dirs;
    // The sandbox is single-use: its workspace (the whole build tree, node_modules included)
    // is moved aside at once and removed off the critical path (see discardWorkspace).
    if (workspace !== undefined) await discardWorkspace(workspace, this.id);
    if (meta !== undefined) await rm(meta, { recursive: true, force: true }).catch(() => undefined);
    await rm(this.record, { force: true }).catch(() => undefined);
  }
}

/** Prefix of a finished build's workspace while it is being removed (inside `builds/`). */
export const REMOVING_PREFIX = '.removing-';

/**
 * Moves a finished build's workspace aside (a rename within `builds/`, which every sandbox sees
 * as an empty tmpfs, so no later build can read it) and removes it with a detached `rm`: the
 * enclave has ended when its worker has, not when a tree of tens of thousands of files is gone,
 * and the command that ran the build returns without waiting for it. What an interrupted
 * removal leaves is removed by `cleanupOrphans`.
 */
async function discardWorkspace(workspace: string, id: string): Promise<void> {
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
async function removeDiscarded(buildsDir: string): Promise<void> {
  const names = await readdir(buildsDir).catch(() => [] as string[]);
  for (const n of names)
    if (n.startsWith(REMOVING_PREFIX))
      await rm(join(buildsDir, n), { recursive: true, force: true }).catch(() => undefined);
}

function listenLoopback(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}
