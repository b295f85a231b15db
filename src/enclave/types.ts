/**
 * The enclave interface shared by every backend (`local`: a sandboxed process with the software
 * NSM; `nitro`: nitro-cli and a vsock bridge). A backend starts single-use enclaves; each enclave
 * runs one worker and gives the host one byte stream to it.
 */
import type { Duplex } from 'node:stream';
import type { ImageRef, IsolationReport, OrphanKeep } from '../contracts/index.js';

export type { ImageRef, IsolationReport, OrphanKeep };

/** What to start. */
export interface EnclaveSpec {
  /** Unique id of the build this enclave serves (used in names; never reused). */
  buildId: string;
  image: ImageRef;
  cpus: number;
  memoryMiB: number;
  /** Wall-clock limit of the whole enclave life; it is stopped when reached. */
  timeoutMs: number;
  /** Debug mode (nitro: `--debug-mode`, PCR0-2 zero). Never implied. */
  debug?: boolean;
  /**
   * Called once the enclave's own process is under way (the local backend: its sandbox spawned),
   * before it is ready: a caller may then start other work without delaying the start. Not every
   * backend calls it; the start's own promise settles either way.
   */
  onLaunched?: () => void;
}

export type EnclaveState = 'starting' | 'running' | 'stopped' | 'failed';

/** Why an enclave ended. */
export interface EnclaveExit {
  state: 'stopped' | 'failed';
  /** `stopped` (asked to), `exited` (worker exited by itself), `timeout`, `oom`, `killed`, `boot-failed`. */
  reason: 'stopped' | 'exited' | 'timeout' | 'oom' | 'killed' | 'boot-failed';
  message: string;
  exitCode?: number | null;
  signal?: string | null;
}

/** A running single-use enclave. */
export interface Enclave {
  readonly id: string;
  readonly spec: EnclaveSpec;
  readonly isolation: IsolationReport;
  readonly state: EnclaveState;
  /** Opens the byte stream to the worker (the protocol runs over it). Only once. */
  connect(): Promise<Duplex>;
  /** Resolves when the enclave has ended, with why. */
  readonly exited: Promise<EnclaveExit>;
  /** Stops (terminates) the enclave; idempotent; safe on every exit path. */
  stop(): Promise<void>;
}

/** A backend: starts enclaves, and cleans up what a crash left behind. */
export interface EnclaveBackend {
  readonly name: 'local' | 'nitro';
  start(spec: EnclaveSpec): Promise<Enclave>;
  /** Terminates enclaves this backend owns that are not in `keep` (crash recovery at start). */
  cleanupOrphans(keep?: OrphanKeep): Promise<string[]>;
}
