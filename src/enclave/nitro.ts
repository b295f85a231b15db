/**
 * The `nitro` backend: one fresh AWS Nitro Enclave per build, started with nitro-cli from the
 * published image of the build's language, reached through a vsock bridge, terminated when the
 * build ends.
 *
 * - Image: the catalog entry's `.eif` in the images directory, its SHA-256 and PCR0/1/2 checked
 *   against the catalog before every start (./nitro-eif.ts).
 * - Size: memory for the build's request on top of what the enclave's RAM also holds: the
 *   image (4 × the EIF, nitro-cli's minimum) and the inputs the worker unpacks (source and
 *   dependency set, when the caller gives their sizes), in 2 MiB pages; vCPUs in whole cores
 *   (./nitro-sizing.ts). What cannot fit in the host's enclave pool is refused before nitro-cli
 *   is asked (nitro-cli would say E22/E27).
 * - Cancel: a start given an abort signal stops waiting for the boot when it fires, and the
 *   enclave it started is terminated.
 * - Name and CID: `tee-compile-<owner>-<build id>`, and a random CID from the configured range
 *   that describe-enclaves does not show in use; a start that fails as a taken CID does (E29)
 *   is retried with another. Never a fixed CID: several builds run on one host at once.
 * - run-enclave calls of this process are made one at a time: nitro-cli fails concurrent starts
 *   (aws-nitro-enclaves-cli issue #516, E36/E39).
 * - End: the enclave is terminated by its id on every path (./nitro-enclave.ts); describe-enclaves
 *   is polled while enclaves run, to notice one that ended by itself.
 * - Crash recovery: `cleanupOrphans` terminates the enclaves named with this owner's prefix that
 *   this process does not run, and no other enclave.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageCatalog, ImageEntry, PcrSet } from '../catalog/index.js';
import { findImage } from '../catalog/index.js';
import type { DescribedEnclave, RunEnclaveInfo } from './nitro-cli.js';
import { NitroCli } from './nitro-cli.js';
import type { NitroBackendConfig, NitroBackendConfigInput } from './nitro-config.js';
import { parseNitroBackendConfig, resolveOwner } from './nitro-config.js';
import type { CheckedEif } from './nitro-eif.js';
import { EifChecker, eifFileNames } from './nitro-eif.js';
import type { EnclaveHost } from './nitro-enclave.js';
import { NitroEnclave, startCancelled } from './nitro-enclave.js';
import { NitroError } from './nitro-errors.js';
import type { EnclaveMemory, InputSizes } from './nitro-sizing.js';
import {
  MAX_ENCLAVES_PER_PARENT,
  detectThreadsPerCore,
  enclaveCpuCount,
  enclaveMemory,
  pickCid,
} from './nitro-sizing.js';
import { EnclaveError } from './errors.js';
import type { Enclave, EnclaveBackend, EnclaveSpec, IsolationReport, OrphanKeep } from './types.js';

export type { NitroBackendConfig, NitroBackendConfigInput } from './nitro-config.js';
export type { InputSizes } from './nitro-sizing.js';

/**
 * What {@link NitroBackend.start} reads beyond the {@link EnclaveSpec}; a caller may pass it to
 * any backend (the local one ignores both fields).
 */
export interface NitroStartSpec extends EnclaveSpec {
  /** The sizes of the inputs the worker will unpack into the enclave's memory. */
  inputs?: InputSizes;
  /** Cancels the start: the boot wait ends and the enclave is terminated. */
  signal?: AbortSignal;
}

/** Longest build-id part of an enclave name. */
const MAX_NAME_BUILD_CHARS = 64;
/** Delay of the describe-enclaves poll after a bridge ended (the worker exits just after). */
const POLL_SOON_MS = 250;

/** Dependencies of the backend, beside its settings. */
export interface NitroBackendOptions {
  /** The image catalog (default: the package's enclave/images.json). */
  catalog?: ImageCatalog;
  /** Environment of nitro-cli and the bridge (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Diagnostics: terminations, retries, failed polls. */
  log?: (message: string) => void;
  /** Random numbers in [0, 1) for CIDs (default Math.random). */
  random?: () => number;
}

/** Enclaves run by this process, by id, so that no cleanup here touches a live one. */
const LIVE = new Set<string>();
/** One run-enclave at a time per nitro-cli executable (see the module comment). */
const startQueues = new Map<string, Promise<unknown>>();

function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = startQueues.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => undefined);
  startQueues.set(key, tail);
  void tail.then(() => {
    if (startQueues.get(key) === tail) startQueues.delete(key);
  });
  return next;
}

interface LaunchRequest {
  eif: CheckedEif;
  cpuCount: number;
  memoryMiB: number;
  memory: EnclaveMemory;
  name: string;
  debug: boolean;
}

/** The `nitro` backend (see the module comment). */
export class NitroBackend implements EnclaveBackend {
  readonly name = 'nitro' as const;
  readonly config: NitroBackendConfig;
  /** Identifies this backend's enclaves: their names start with `tee-compile-<owner>-`. */
  readonly owner: string;
  private readonly cli: NitroCli;
  private readonly eifs: EifChecker;
  private readonly live = new Map<string, NitroEnclave>();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private threads: Promise<number> | undefined;
  private catalog: ImageCatalog | undefined;

  constructor(
    config: NitroBackendConfigInput,
    private readonly opts: NitroBackendOptions = {},
  ) {
    this.config = parseNitroBackendConfig(config);
    this.owner = resolveOwner(this.config);
    this.catalog = opts.catalog;
    this.cli = new NitroCli({
      path: this.config.nitroCli,
      ...(opts.env ? { env: opts.env } : {}),
      timeoutMs: this.config.commandTimeoutSeconds * 1000,
      runTimeoutMs: this.config.runTimeoutSeconds * 1000,
    });
    this.eifs = new EifChecker(this.config.imagesDir);
  }

  /** The prefix of every enclave name of this owner. */
  get namePrefix(): string {
    return `tee-compile-${this.owner}-`;
  }

  /** The enclave name for a build. */
  enclaveName(buildId: string): string {
    const safe = buildId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, MAX_NAME_BUILD_CHARS);
    return `${this.namePrefix}${safe || randomUUID()}`;
  }

  private log(message: string): void {
    this.opts.log?.(`nitro: ${message}`);
  }

  /** The catalog entry of `image` (the catalog is loaded on first use). */
  private async entryFor(image: EnclaveSpec['image']): Promise<ImageEntry> {
    const catalog = (this.catalog ??= await (
      await import('../catalog/node.js')
    ).loadImageCatalog());
    return findImage(catalog, {
      language: image.language,
      name: image.name,
      version: image.version,
    });
  }

  /**
   * The memory an enclave for `spec` takes (what {@link start} asks nitro-cli for), so that a
   * budget counts what the pool really gives. An image that cannot be found counts as the build's
   * own request: start() then refuses it with the reason.
   */
  async memoryFor(spec: NitroStartSpec): Promise<number> {
    try {
      const entry = await this.entryFor(spec.image);
      for (const n of eifFileNames(entry)) {
        const st = await stat(join(this.config.imagesDir, n)).catch(() => undefined);
        if (st?.isFile()) return enclaveMemory(spec.memoryMiB, st.size, spec.inputs).totalMiB;
      }
    } catch {
      // start() names what is wrong.
    }
    return spec.memoryMiB;
  }

  /**
   * Starts an enclave for `spec`; resolves once its worker answers. `spec.inputs` adds the
   * inputs' room to the memory; `spec.signal` cancels the start (ENCLAVE_START_FAILED, failure
   * CANCELLED), terminating the enclave if one was started.
   */
  async start(startSpec: NitroStartSpec): Promise<Enclave> {
    const { inputs, signal, ...spec } = startSpec;
    checkSpec(spec);
    if (signal?.aborted) throw startCancelled();
    const entry = await this.entryFor(spec.image);
    const which = this.config.simulation ? 'simulated' : 'measured';
    const expected: PcrSet | null = this.config.simulation ? entry.simulated : entry.pcrs;
    if (expected === null)
      throw new NitroError(
        'ENCLAVE_SPEC_INVALID',
        'IMAGE_NOT_MEASURED',
        `${entry.name}@${entry.version} has not been measured on a Nitro host yet (its catalog entry has no pcrs): build and publish it first (docs/nitro-host.md)`,
        { path: 'image' },
      );
    const eif = await this.eifs.check(entry, expected, which);
    this.threads ??= this.config.threadsPerCore
      ? Promise.resolve(this.config.threadsPerCore)
      : detectThreadsPerCore();
    const threads = await this.threads;
    const memory = enclaveMemory(spec.memoryMiB, eif.size, inputs);
    const req: LaunchRequest = {
      eif,
      cpuCount: enclaveCpuCount(spec.cpus, threads),
      memoryMiB: memory.totalMiB,
      memory,
      name: this.enclaveName(spec.buildId),
      debug: spec.debug === true,
    };
    const info = await serialised(this.config.nitroCli, () => {
      if (signal?.aborted) throw startCancelled();
      return this.launch(req);
    });
    const isolation = this.isolation(spec, req, info, `${entry.name}@${entry.version}`, threads);
    const enclave = new NitroEnclave(
      info.EnclaveID,
      info.EnclaveName ?? req.name,
      info.EnclaveCID,
      spec,
      isolation,
      this.host,
    );
    this.live.set(enclave.id, enclave);
    LIVE.add(enclave.id);
    this.log(
      `started enclave ${enclave.id} (${enclave.name}) CID ${enclave.cid}, ${info.NumberOfCPUs} vCPUs, ${info.MemoryMiB} MiB`,
    );
    this.watch();
    try {
      await enclave.boot(signal);
    } catch (e) {
      await enclave.stop();
      throw e;
    }
    return enclave;
  }

  /** run-enclave with a fresh CID, retried when the CID turns out to be taken. */
  private async launch(req: LaunchRequest): Promise<RunEnclaveInfo> {
    const tried = new Set<number>();
    for (let attempt = 1; ; attempt++) {
      const running = await this.cli.describeEnclaves();
      this.checkCapacity(running, req);
      const taken = new Set([...tried, ...running.map((e) => e.EnclaveCID)]);
      const cid = pickCid(this.config.cidRange, taken, this.opts.random);
      if (cid === undefined)
        throw new NitroError(
          'ENCLAVE_START_FAILED',
          'CID_UNAVAILABLE',
          `no free CID in ${this.config.cidRange.min}-${this.config.cidRange.max} (in use or tried: ${taken.size})`,
        );
      tried.add(cid);
      try {
        return await this.cli.runEnclave({
          eifPath: req.eif.path,
          cpuCount: req.cpuCount,
          memoryMiB: req.memoryMiB,
          cid,
          name: req.name,
          debug: req.debug,
        });
      } catch (e) {
        if (!(e instanceof NitroError) || e.nitroCli === undefined) throw e;
        // Killed or timed out: its enclave process may have started the enclave regardless.
        if (e.nitroCli.code === undefined) await this.terminateByName(req.name);
        // A CID held by an enclave this user cannot see fails the start ioctl (E29); so do other
        // driver refusals, which fail again and end the attempts.
        if (e.nitroCli.code === 'E29' && attempt < this.config.cidAttempts) {
          this.log(`run-enclave with CID ${cid} failed with E29; retrying with another CID`);
          continue;
        }
        throw e;
      }
    }
  }

  /** Refuses up front what nitro-cli would refuse for lack of room (E22, E27, five enclaves). */
  private checkCapacity(running: DescribedEnclave[], req: LaunchRequest): void {
    if (running.length >= MAX_ENCLAVES_PER_PARENT)
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'RESOURCES_UNAVAILABLE',
        `the host already runs ${running.length} enclaves, the most a parent instance can run`,
      );
    const pool = this.config.pool;
    if (pool === undefined) return;
    if (req.cpuCount > pool.cpus || req.memoryMiB > pool.memoryMiB)
      throw new NitroError(
        'ENCLAVE_SPEC_INVALID',
        'RESOURCES_UNAVAILABLE',
        `the enclave needs ${req.cpuCount} vCPUs and ${req.memoryMiB} MiB (${memoryParts(req.memory)}), but the host's enclave pool has ${pool.cpus} vCPUs and ${pool.memoryMiB} MiB in all (allocator.yaml cpu_count, memory_mib; nitro-cli would refuse with ${req.cpuCount > pool.cpus ? 'E22' : 'E27'})`,
        { path: req.cpuCount > pool.cpus ? 'cpus' : 'memoryMiB' },
      );
    const cpus = pool.cpus - running.reduce((n, e) => n + e.NumberOfCPUs, 0);
    const memory = pool.memoryMiB - running.reduce((n, e) => n + e.MemoryMiB, 0);
    if (req.cpuCount > cpus || req.memoryMiB > memory)
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'RESOURCES_UNAVAILABLE',
        `the enclave needs ${req.cpuCount} vCPUs and ${req.memoryMiB} MiB, but only ${Math.max(0, cpus)} vCPUs and ${Math.max(0, memory)} MiB of the enclave pool are free while ${running.length} enclaves run`,
      );
  }

  private async terminateByName(name: string): Promise<void> {
    const running = await this.cli.describeEnclaves().catch(() => []);
    for (const e of running)
      if (e.EnclaveName === name)
        await this.cli.terminateEnclave(e.EnclaveID).catch(() => undefined);
  }

  private isolation(
    spec: EnclaveSpec,
    req: LaunchRequest,
    info: RunEnclaveInfo,
    image: string,
    threads: number,
  ): IsolationReport {
    const notes = [
      `enclave ${info.EnclaveID} (${info.EnclaveName ?? req.name}), CID ${info.EnclaveCID}`,
      `${info.NumberOfCPUs} vCPUs (asked ${spec.cpus}, whole cores of ${threads} threads), ${info.MemoryMiB} MiB (${memoryParts(req.memory)}; EIF ${req.eif.size} bytes)`,
      `image ${image}: ${req.eif.path}, sha256 ${req.eif.sha256}, PCR0 ${req.eif.measurements.pcr0}`,
      `time limit ${Math.round(spec.timeoutMs / 1000)} s`,
    ];
    if (req.debug)
      notes.push('debug mode: PCR0-2 read as zero and the console is open; verifiers refuse it');
    if (this.config.simulation)
      notes.push('simulation: the EIF was checked against the simulated measurements');
    return {
      backend: 'nitro',
      network: 'enclave',
      filesystem: 'enclave',
      memory: 'enclave',
      notes,
    };
  }

  /** What the enclaves of this backend use of it. */
  private get host(): EnclaveHost {
    return {
      cli: this.cli,
      env: this.opts.env,
      bridgeCommand: this.config.bridgeCommand,
      vsockPort: this.config.vsockPort,
      bootTimeoutMs: this.config.bootTimeoutSeconds * 1000,
      bootProbeIntervalMs: this.config.bootProbeIntervalMs,
      log: (m) => this.log(m),
      isListed: async (id) => {
        try {
          return (await this.cli.describeEnclaves()).some((e) => e.EnclaveID === id);
        } catch {
          return undefined;
        }
      },
      pollSoon: () => setTimeout(() => void this.poll(), POLL_SOON_MS).unref(),
      forget: (id) => {
        this.live.delete(id);
        LIVE.delete(id);
        if (this.live.size === 0 && this.pollTimer !== undefined) {
          clearInterval(this.pollTimer);
          this.pollTimer = undefined;
        }
      },
    };
  }

  private watch(): void {
    if (this.pollTimer !== undefined) return;
    // Kept referenced: the enclaves are not children of this process, and it must live to see
    // them end; the timer stops when the last one has.
    this.pollTimer = setInterval(() => void this.poll(), this.config.pollIntervalMs);
  }

  /** One describe-enclaves: every watched enclave no longer running has ended. */
  private poll(): Promise<void> {
    this.polling ??= (async () => {
      // Only enclaves known before the listing is taken can be missing from it.
      const watched = [...this.live.values()];
      try {
        if (watched.length === 0) return;
        const running = new Map(
          (await this.cli.describeEnclaves()).map((e) => [e.EnclaveID, e] as const),
        );
        for (const enclave of watched)
          if (running.get(enclave.id)?.State !== 'RUNNING') enclave.onGone();
      } catch (e) {
        this.log(`describe-enclaves failed: ${(e as Error).message}`);
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  /**
   * Terminates the enclaves of this owner (named `tee-compile-<owner>-…`) that a crash left:
   * those neither kept by `keep` (ids or names, or a test) nor run by this process. Enclaves of
   * other owners, and any other enclave on the host, are left alone. Returns the ids terminated.
   */
  async cleanupOrphans(keep: OrphanKeep = new Set()): Promise<string[]> {
    const terminated: string[] = [];
    const failed: string[] = [];
    const kept = async (id: string, name: string): Promise<boolean> =>
      typeof keep === 'function' ? keep({ name, id }) : keep.has(id) || keep.has(name);
    for (const e of await this.cli.describeEnclaves()) {
      const name = e.EnclaveName ?? '';
      if (!name.startsWith(this.namePrefix)) continue;
      if (LIVE.has(e.EnclaveID) || (await kept(e.EnclaveID, name))) continue;
      try {
        await this.cli.terminateEnclave(e.EnclaveID);
        terminated.push(e.EnclaveID);
        this.log(`terminated leftover enclave ${e.EnclaveID} (${name})`);
      } catch (err) {
        const f = err instanceof NitroError ? err.nitroCli?.code : undefined;
        // E11: it ended by itself meanwhile.
        if (f !== 'E11') failed.push(`${e.EnclaveID}: ${(err as Error).message}`);
      }
    }
    if (failed.length > 0)
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'NITRO_CLI_FAILED',
        `could not terminate ${failed.length} leftover enclaves: ${failed.join('; ')}`,
      );
    return terminated;
  }
}

/** `build 4096 + image 84 + inputs 130 MiB` (the parts of the enclave's memory). */
function memoryParts(m: EnclaveMemory): string {
  return `build ${m.buildMiB} + image ${m.imageMiB} + inputs ${m.inputsMiB} MiB`;
}

function checkSpec(spec: EnclaveSpec): void {
  const bad = (path: string, message: string): never => {
    throw new EnclaveError('ENCLAVE_SPEC_INVALID', message, { path });
  };
  if (typeof spec.buildId !== 'string' || spec.buildId === '')
    bad('buildId', 'buildId must be a non-empty string');
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) bad('cpus', 'cpus must be a positive integer');
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 1)
    bad('memoryMiB', 'memoryMiB must be a positive integer');
  if (!(spec.timeoutMs > 0)) bad('timeoutMs', 'timeoutMs must be positive');
}
