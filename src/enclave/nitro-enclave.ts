/**
 * One running Nitro Enclave of the `nitro` backend: its boot wait, its one byte stream, and its
 * end. Whatever ends the build (success, refusal, cancel, time limit, the worker exiting, a boot
 * failure), the enclave is terminated by its id, never with `--all`, and `exited` says why.
 */
import type { Duplex } from 'node:stream';
import type { NitroCli } from './nitro-cli.js';
import type { BridgeStream } from './nitro-bridge.js';
import { bridgeArgv, openBridge, probeWorker } from './nitro-bridge.js';
import { NitroError } from './nitro-errors.js';
import { EnclaveError } from './errors.js';
import type { Enclave, EnclaveExit, EnclaveSpec, EnclaveState, IsolationReport } from './types.js';

/** Longest a single boot probe waits for an answer. */
const PROBE_TIMEOUT_MS = 5000;
/** Longest delay a Node timer takes (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** terminate-enclave attempts before giving up on an enclave. */
const TERMINATE_ATTEMPTS = 3;

/** What an enclave needs from its backend. */
export interface EnclaveHost {
  cli: NitroCli;
  env: NodeJS.ProcessEnv | undefined;
  bridgeCommand: readonly string[];
  vsockPort: number;
  bootTimeoutMs: number;
  bootProbeIntervalMs: number;
  log(message: string): void;
  /** Whether the enclave is still listed by describe-enclaves (undefined: cannot tell). */
  isListed(id: string): Promise<boolean | undefined>;
  /** Asks for a describe-enclaves poll soon (the bridge ended: the enclave may have too). */
  pollSoon(): void;
  /** The enclave has ended: stop watching it. */
  forget(id: string): void;
}

// Not unref'd: while an enclave boots, this wait may be all that keeps the process alive.
// An abort ends it early.
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The error of a start cancelled by its caller. */
export function startCancelled(id?: string): NitroError {
  return new NitroError(
    'ENCLAVE_START_FAILED',
    'CANCELLED',
    id === undefined
      ? 'the start was cancelled'
      : `the start was cancelled while enclave ${id} booted; the enclave was terminated`,
  );
}

/** A running Nitro Enclave (see the module comment). */
export class NitroEnclave implements Enclave {
  readonly exited: Promise<EnclaveExit>;
  private resolveExit!: (e: EnclaveExit) => void;
  private _state: EnclaveState = 'starting';
  private done = false;
  private terminating: Promise<void> | undefined;
  private pending: EnclaveExit | undefined;
  private bridge: BridgeStream | undefined;
  private connected = false;
  private sessionEnded = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly cid: number,
    readonly spec: EnclaveSpec,
    readonly isolation: IsolationReport,
    private readonly host: EnclaveHost,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
    this.timer = setTimeout(
      () => {
        void this.terminate({
          state: 'failed',
          reason: 'timeout',
          message: `the enclave reached its time limit of ${Math.round(spec.timeoutMs / 1000)} s and was terminated`,
        });
      },
      Math.min(spec.timeoutMs, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  get state(): EnclaveState {
    return this._state;
  }

  private get bridgeArgv(): string[] {
    return bridgeArgv(this.host.bridgeCommand, this.cid, this.host.vsockPort);
  }

  /**
   * Waits until the worker answers through the bridge (nitro-cli returns once the enclave's init
   * has signalled, before the worker listens). On timeout, when the enclave ends meanwhile, or
   * when `signal` fires, the enclave is terminated and the start fails.
   */
  async boot(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.host.bootTimeoutMs;
    let last = 'no answer yet';
    const cancel = async (): Promise<never> => {
      await this.terminate({
        state: 'stopped',
        reason: 'stopped',
        message: 'the start was cancelled while the enclave booted',
      });
      throw startCancelled(this.id);
    };
    // A probe in flight is not waited for: the bridge it runs ends with the enclave.
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal?.aborted) resolve('aborted');
      signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    for (;;) {
      if (this.done) break;
      if (signal?.aborted) return cancel();
      const left = deadline - Date.now();
      const probe = await Promise.race([
        probeWorker(this.bridgeArgv, this.host.env, Math.max(1, Math.min(PROBE_TIMEOUT_MS, left))),
        aborted,
      ]);
      if (this.done) break;
      if (probe === 'aborted') return cancel();
      if (probe.up) {
        this._state = 'running';
        return;
      }
      last = probe.detail;
      if (probe.unusable === true) {
        await this.terminate({
          state: 'failed',
          reason: 'boot-failed',
          message: `the vsock bridge cannot run: ${last}`,
        });
        throw new NitroError(
          'ENCLAVE_START_FAILED',
          'BRIDGE_FAILED',
          `enclave ${this.id} started, but the vsock bridge cannot run: ${last} (install socat 1.7.4 or later, or set bridgeCommand); the enclave was terminated`,
        );
      }
      if (Date.now() >= deadline) {
        const seconds = Math.round(this.host.bootTimeoutMs / 1000);
        await this.terminate({
          state: 'failed',
          reason: 'boot-failed',
          message: `the worker did not answer within the boot timeout of ${seconds} s (last: ${last})`,
        });
        throw new NitroError(
          'ENCLAVE_START_FAILED',
          'BOOT_TIMEOUT',
          `enclave ${this.id} (CID ${this.cid}) booted, but its worker did not answer within ${seconds} s (last: ${last}); the enclave was terminated`,
        );
      }
      await sleep(Math.min(this.host.bootProbeIntervalMs, deadline - Date.now()), signal);
    }
    const exit = await this.exited;
    throw new NitroError(
      'ENCLAVE_START_FAILED',
      exit.reason === 'timeout' ? 'BOOT_TIMEOUT' : 'BOOT_FAILED',
      `enclave ${this.id} (CID ${this.cid}) ended while booting: ${exit.message}`,
    );
  }

  /** Opens the byte stream to the worker: one bridge process. Only once. */
  async connect(): Promise<Duplex> {
    if (this.connected)
      throw new EnclaveError('ENCLAVE_CONNECT_FAILED', 'connect() may be called only once');
    if (this._state !== 'running')
      throw new EnclaveError('ENCLAVE_CONNECT_FAILED', `the enclave is ${this._state}`);
    this.connected = true;
    let bridge: BridgeStream;
    try {
      bridge = await openBridge(this.bridgeArgv, this.host.env);
    } catch (e) {
      throw new NitroError(
        'ENCLAVE_CONNECT_FAILED',
        'BRIDGE_FAILED',
        `cannot start the vsock bridge (${this.bridgeArgv.join(' ')}): ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.bridge = bridge;
    void bridge.ended.then(() => {
      this.sessionEnded = true;
      if (!this.done) this.host.pollSoon();
    });
    return bridge;
  }

  /** Terminates the enclave (idempotent); resolves when it has ended. */
  async stop(): Promise<void> {
    if (!this.done)
      await this.terminate({
        state: 'stopped',
        reason: 'stopped',
        message: 'terminated by the host',
      });
    await this.exited;
  }

  /** describe-enclaves no longer lists the enclave as running, and nobody here ended it. */
  onGone(): void {
    if (this.done || this.terminating !== undefined) return;
    if (this._state === 'starting')
      this.finish({
        state: 'failed',
        reason: 'boot-failed',
        message: 'the enclave ended while booting (its worker exited)',
      });
    else if (this.sessionEnded)
      this.finish({
        state: 'stopped',
        reason: 'exited',
        message: 'the enclave ended after its session (the worker exits after its one build)',
      });
    else
      this.finish({
        state: 'failed',
        reason: 'exited',
        message: 'the enclave ended by itself (its worker exited)',
      });
  }

  /** Terminates the enclave by id; `why` becomes the exit unless another reason came first. */
  private terminate(why: EnclaveExit): Promise<void> {
    this.pending ??= why;
    this.terminating ??= (async () => {
      this.bridge?.destroy();
      let failure: unknown;
      for (let i = 0; i < TERMINATE_ATTEMPTS; i++) {
        try {
          await this.host.cli.terminateEnclave(this.id);
          failure = undefined;
          break;
        } catch (e) {
          failure = e;
          // E11: nitro-cli cannot reach the enclave: it most likely ended by itself meanwhile.
          if ((await this.host.isListed(this.id)) === false) {
            failure = undefined;
            break;
          }
        }
      }
      const exit = { ...this.pending! };
      if (failure !== undefined) {
        const why = failure instanceof Error ? failure.message : 'unknown failure';
        exit.state = 'failed';
        exit.message += `; terminating it failed (${why}): it may still run, terminate it with nitro-cli terminate-enclave --enclave-id ${this.id}`;
        this.host.log(`could not terminate enclave ${this.id}: ${why}`);
      } else {
        this.host.log(`terminated enclave ${this.id} (${this.name}): ${exit.reason}`);
      }
      this.finish(exit);
    })();
    return this.terminating;
  }

  private finish(e: EnclaveExit): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this._state = e.state;
    this.bridge?.destroy();
    this.host.forget(this.id);
    this.resolveExit(e);
  }
}
