/**
 * The host's enclave budget: how many enclaves, CPUs and MiB of memory may be given out at once
 * (nitro: at most 4 enclaves per parent, and the allocator's CPU/memory pool). Builds wait for
 * their share in arrival order; a build that could never fit is refused at once.
 */
import { enclaveCpuCount } from '../enclave/index.js';
import type { Enclave, EnclaveBackend, EnclaveSpec } from '../enclave/index.js';
import type { Capacity } from './config.js';
import { AgentError } from './errors.js';

/** What one enclave takes. */
export interface ResourceRequest {
  cpus: number;
  memoryMiB: number;
}

/**
 * What `backend` really takes for a spec: vCPUs rounded up to whole cores of `threadsPerCore`
 * threads (nitro gives enclaves whole cores), and memory as the backend sizes it when it can say
 * (nitro: the build's request, the image and the inputs), else the build's request.
 */
export function backendSizing(
  backend: EnclaveBackend,
  threadsPerCore: number,
): (spec: EnclaveSpec) => Promise<ResourceRequest> {
  const memoryFor =
    'memoryFor' in backend && typeof backend.memoryFor === 'function'
      ? (backend.memoryFor as (spec: EnclaveSpec) => Promise<number>).bind(backend)
      : undefined;
  return async (spec) => ({
    cpus: enclaveCpuCount(spec.cpus, threadsPerCore),
    memoryMiB: memoryFor ? await memoryFor(spec) : spec.memoryMiB,
  });
}

interface Waiter {
  req: ResourceRequest;
  grant: (release: () => void) => void;
}

/** A FIFO pool of enclave slots, CPUs and memory. */
export class ResourcePool {
  private used: Capacity = { enclaves: 0, cpus: 0, memoryMiB: 0 };
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacity: Capacity) {}

  /** What is given out now. */
  get inUse(): Readonly<Capacity> {
    return { ...this.used };
  }

  /** Builds waiting for resources. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Throws when `req` exceeds the whole capacity (waiting would never end). */
  check(req: ResourceRequest): void {
    const c = this.capacity;
    if (req.cpus > c.cpus || req.memoryMiB > c.memoryMiB) {
      throw new AgentError(
        'AGENT_RESOURCES_EXCEEDED',
        `the build asks for ${req.cpus} CPUs and ${req.memoryMiB} MiB; this host gives enclaves at most ${c.cpus} CPUs and ${c.memoryMiB} MiB`,
      );
    }
  }

  /**
   * Waits for `req` (first come, first served: a large request at the head is not overtaken), and
   * returns the function that gives it back (idempotent).
   */
  acquire(req: ResourceRequest, signal?: AbortSignal): Promise<() => void> {
    this.check(req);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { req, grant: resolve };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new AgentError('AGENT_CANCELLED', 'cancelled while waiting for enclave resources'));
        this.pump();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      waiter.grant = (release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      this.waiters.push(waiter);
      this.pump();
    });
  }

  private fits(req: ResourceRequest): boolean {
    const c = this.capacity;
    const u = this.used;
    return (
      u.enclaves + 1 <= c.enclaves &&
      u.cpus + req.cpus <= c.cpus &&
      u.memoryMiB + req.memoryMiB <= c.memoryMiB
    );
  }

  private pump(): void {
    for (let head = this.waiters[0]; head && this.fits(head.req); head = this.waiters[0]) {
      this.waiters.shift();
      const req = head.req;
      this.used.enclaves += 1;
      this.used.cpus += req.cpus;
      this.used.memoryMiB += req.memoryMiB;
      let released = false;
      head.grant(() => {
        if (released) return;
        released = true;
        this.used.enclaves -= 1;
        this.used.cpus -= req.cpus;
        this.used.memoryMiB -= req.memoryMiB;
        this.pump();
      });
    }
  }
}

/** Hooks of a budgeted backend (one per job). */
export interface BudgetHooks {
  signal: AbortSignal;
  /** Called when the enclave has to wait for resources. */
  onWaiting?: (req: ResourceRequest) => void;
  /** Called when an enclave of this job has started. */
  onStarted?: (enclave: Enclave) => void;
  /**
   * What the backend will really take for a spec (nitro rounds CPUs up to whole cores); default:
   * what the spec asks for.
   */
  sizing?: (spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>;
}

/**
 * Wraps a backend so that every enclave it starts first takes its share of the pool (released
 * when the enclave ends), and so that the job's cancellation stops its enclaves.
 */
export function budgetedBackend(
  inner: EnclaveBackend,
  pool: ResourcePool,
  hooks: BudgetHooks,
): EnclaveBackend & { readonly started: readonly Enclave[] } {
  const started: Enclave[] = [];
  hooks.signal.addEventListener(
    'abort',
    () => {
      for (const e of started) void e.stop().catch(() => undefined);
    },
    { once: true },
  );
  return {
    name: inner.name,
    started,
    async start(spec: EnclaveSpec): Promise<Enclave> {
      const req = (await hooks.sizing?.(spec)) ?? { cpus: spec.cpus, memoryMiB: spec.memoryMiB };
      pool.check(req);
      const inUse = pool.inUse;
      const c = pool.capacity;
      if (
        pool.waiting > 0 ||
        inUse.enclaves + 1 > c.enclaves ||
        inUse.cpus + req.cpus > c.cpus ||
        inUse.memoryMiB + req.memoryMiB > c.memoryMiB
      )
        hooks.onWaiting?.(req);
      const release = await pool.acquire(req, hooks.signal);
      let enclave: Enclave;
      try {
        if (hooks.signal.aborted) throw new AgentError('AGENT_CANCELLED', 'cancelled');
        enclave = await inner.start(spec);
      } catch (err) {
        release();
        throw err;
      }
      started.push(enclave);
      void enclave.exited.then(release, release);
      if (hooks.signal.aborted) void enclave.stop().catch(() => undefined);
      hooks.onStarted?.(enclave);
      return enclave;
    },
    cleanupOrphans: (keep) => inner.cleanupOrphans(keep),
  };
}
