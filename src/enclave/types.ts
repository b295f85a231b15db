/**
 * The enclave interface shared by every backend (`local`: a sandboxed process with the software
 * NSM; `nitro`: nitro-cli and a vsock bridge). A backend starts single-use enclaves; each enclave
 * runs one worker and gives the host one byte stream to it.
 */
import type { Duplex } from 'node:stream';

/** Published image identity (see enclave/images.json). */
export interface ImageRef {
  name: string;
  version: string;
  language: 'rust' | 'node' | 'go';
}

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
}

export type EnclaveState = 'starting' | 'running' | 'stopped' | 'failed';

/** How the enclave was isolated; recorded in the provenance (`internalParameters.isolation`). */
export interface IsolationReport {
  backend: 'local' | 'nitro';
  /** `netns` (local: fresh network namespace, loopback only), `enclave` (nitro), or `none` (explicitly allowed). */
  network: 'netns' | 'enclave' | 'none';
  /** `mountns` (private mount namespace with the workspace at a fixed path), `enclave`, or `none`. */
  filesystem: 'mountns' | 'enclave' | 'none';
  /** How memory is bounded: `cgroup2`, `cgroup1`, `rlimit`, `enclave`, or `none`. */
  memory: string;
  /** Free-form details (kernel refusals, limits applied). */
  notes?: string[];
}

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
  cleanupOrphans(keep?: ReadonlySet<string>): Promise<string[]>;
}
