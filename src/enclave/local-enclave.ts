/**
 * One running enclave of the `local` backend: the worker as a child process in its sandbox, its
 * one byte stream, and its end (`exited` says why).
 *
 * The byte stream. The worker sits in a fresh network namespace with no route out, so it cannot
 * listen where the client can reach it. The backend therefore opens the listening socket itself,
 * on 127.0.0.1:0 in the host's namespace, and hands it to the worker over Node's IPC channel
 * (`child.send(msg, server)` passes the descriptor with SCM_RIGHTS; a socket keeps the namespace
 * it was created in). The client then connects with real TCP, exactly as it connects to the vsock
 * bridge of a Nitro host, while the worker and everything it starts still have no network: the one
 * socket they hold can only accept. The worker stops listening after its one connection.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { connect, createServer } from 'node:net';
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { MemoryLimit } from './cgroup.js';
import { EnclaveError } from './errors.js';
import { discardWorkspace, killGroup, runRecordFile, writeRunRecord } from './local-records.js';
import type { SandboxLevel } from './sandbox.js';
import { sandboxCommand } from './sandbox.js';
import type { Enclave, EnclaveExit, EnclaveSpec, EnclaveState, IsolationReport } from './types.js';

/**
 * The share of the build's memory the workspace (a tmpfs, see sandbox.ts) leaves to the worker:
 * a build that fills its workspace then fails writing (and is told why), rather than the memory
 * cgroup killing the worker, the largest process left once the build's own are gone.
 */
export const WORKER_RESERVE_MIB = 128;

/** How long the worker may take to start. */
export const WORKER_START_TIMEOUT_MS = 30_000;
/** Lines of the worker's own stderr kept for the exit message. */
const STDERR_TAIL_LINES = 40;

/** Messages of the backend <-> worker IPC channel (local backend only). */
export type LocalIpcMessage =
  { type: 'ready' } | { type: 'listen'; isolation: IsolationReport } | { type: 'listening' };

/** `SIGKILL` for 9: the sandbox's shell reports a killed worker as status 128 + n. */
function signalName(n: number): string {
  const found = Object.entries(constants.signals).find(([, v]) => v === n);
  return found ? found[0] : `signal ${n}`;
}

/** How `LocalEnclave.launch` starts the worker. */
export interface LaunchOptions {
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
  /** Called once the sandbox's process is spawned. */
  onLaunched?: () => void;
}

/** One worker of the local backend in its sandbox (see the module comment). */
export class LocalEnclave implements Enclave {
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
      workspaceBytes: (this.spec.memoryMiB - WORKER_RESERVE_MIB) * 1024 * 1024,
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
    o.onLaunched?.();
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

function listenLoopback(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}
