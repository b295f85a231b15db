/**
 * The agent: accepts jobs, keeps them durably, runs them in order within the host's enclave
 * budget, publishes their events and serves their results. The HTTP layer (./server.ts) is a thin
 * skin over this class.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnclaveBackend, EnclaveSpec } from '../enclave/index.js';
import { DependencyCache, agentCacheDir } from './cache.js';
import type { Eviction } from './cache.js';
import type { AgentSettings } from './config.js';
import { DiskBudget } from './disk.js';
import { AgentError } from './errors.js';
import { EventHub } from './event-hub.js';
import type { AgentEvent } from './events.js';
import type { BuildExecutor } from './executor.js';
import { newJobId, newNonce } from './ids.js';
import type { Submission } from './intake.js';
import { INPUT_FILES } from './intake.js';
import type { JobError, JobRecord, JobState, JobView } from './job.js';
import { JOB_STATES, isFinished, jobView } from './job.js';
import type { AbortReason } from './job-outcome.js';
import { completeEvent } from './job-outcome.js';
import type { Logger } from './log.js';
import { AgentMetrics } from './metrics.js';
import type { MetricsSnapshot } from './metrics.js';
import { JobQueue } from './queue.js';
import { ResourcePool } from './resources.js';
import type { ResourceRequest } from './resources.js';
import { runJob } from './runner.js';
import { PRUNE_INTERVAL_MS, selectPrunable } from './retention.js';
import type { JobPaths } from './store.js';
import { JobStore } from './store.js';

/** How long `DELETE` waits for a running job's enclave to stop before answering. */
export const CANCEL_WAIT_MS = 15_000;

export interface AgentOptions {
  settings: AgentSettings;
  backend: EnclaveBackend;
  executor: BuildExecutor;
  logger: Logger;
  clock?: () => number;
  /** What the backend really takes for a spec (see `BudgetHooks.sizing`). */
  sizing?: (spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>;
}

/** A slot taken for a submission while its body is read. */
export interface Admission {
  id: string;
  paths: JobPaths;
  /** The job was recorded: the slot becomes the job. */
  accepted(): void;
  /** Gives the slot back (the submission failed); removes the job directory. */
  release(): Promise<void>;
}

/** The build service. */
export class Agent {
  readonly metrics = new AgentMetrics();
  readonly settings: AgentSettings;
  private readonly store: JobStore;
  private readonly records = new Map<string, JobRecord>();
  private readonly events: EventHub;
  private readonly queue: JobQueue;
  private readonly pool: ResourcePool;
  private readonly disk: DiskBudget;
  private readonly cache: DependencyCache;
  private readonly backend: EnclaveBackend;
  private readonly executor: BuildExecutor;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sizing:
    ((spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>) | undefined;
  private accepting = true;
  private admitting = 0;
  private singleBuildTaken = false;
  private pruneTimer: NodeJS.Timeout | null = null;
  private pruning: Promise<void> | null = null;
  private endGrace: () => void = () => undefined;
  private singleBuildServedResolve: () => void = () => undefined;
  /** Resolves, in single-build mode, once the one job's result (or its failure) has been fetched. */
  readonly singleBuildServed: Promise<void>;

  private constructor(o: AgentOptions) {
    this.settings = o.settings;
    this.store = new JobStore(o.settings.dataDir);
    this.backend = o.backend;
    this.executor = o.executor;
    this.log = o.logger;
    this.now = o.clock ?? Date.now;
    this.sizing = o.sizing;
    this.pool = new ResourcePool(o.settings.capacity);
    this.events = new EventHub((id) => this.store.paths(id).events, o.logger);
    this.disk = new DiskBudget(o.settings.dataDir, o.settings.limits, this.now);
    this.cache = new DependencyCache(agentCacheDir(o.settings.dataDir));
    this.queue = new JobQueue(o.settings.maxConcurrent, (id, signal) => this.runJob(id, signal));
    this.singleBuildServed = new Promise((resolve) => (this.singleBuildServedResolve = resolve));
  }

  /**
   * Opens the data directory and recovers from the last run: a job that was running is failed
   * ("agent restarted during the build") and every enclave the backend left is terminated; queued
   * jobs are queued again in their order.
   */
  static async open(o: AgentOptions): Promise<Agent> {
    const agent = new Agent(o);
    await agent.recover();
    return agent;
  }

  private async recover(): Promise<void> {
    const found = await this.store.open();
    for (const id of found.removedIncomplete)
      this.log.info('removed an upload that never completed', { job_id: id });
    for (const u of found.unreadable)
      this.log.error('job record unreadable; left in place', { job_id: u.id, reason: u.reason });
    const requeue: string[] = [];
    for (const rec of found.records) {
      this.records.set(rec.id, rec);
      this.events.notePhase(rec.id, rec.state);
      if (rec.state === 'running') {
        await this.finishUnrun(rec, 'failed', {
          type: 'agent_restarted',
          code: 'AGENT_INTERRUPTED',
          message: 'agent restarted during the build',
        });
        this.log.warn('job was running when the agent stopped; marked failed', { job_id: rec.id });
      } else if (rec.state === 'queued') {
        if (await this.inputsPresent(rec)) {
          await this.events.open(rec.id, true);
          requeue.push(rec.id);
        } else {
          await this.finishUnrun(rec, 'failed', {
            type: 'inputs_lost',
            code: 'AGENT_SOURCE_INVALID',
            message: 'the inputs of this queued job were not found after a restart',
          });
        }
      }
    }
    if (this.settings.singleBuild && this.records.size > 0) this.singleBuildTaken = true;
    // Nothing runs yet, so every enclave this backend owns is a leftover of the last run.
    const orphans = await this.backend.cleanupOrphans(new Set());
    for (const enclave of orphans) this.log.warn('terminated an orphaned enclave', { enclave });
    // Nor does any build hold a cached dependency set.
    const leftovers = await this.cache.removeLeftovers();
    if (leftovers > 0)
      this.log.info('removed dependency-cache files of the last run', { count: leftovers });
    await this.prune();
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    for (const id of requeue) {
      this.events.notePhase(id, 'queued');
      this.queue.push(id);
    }
    if (requeue.length > 0) this.log.info('queued jobs resumed', { count: requeue.length });
  }

  private async inputsPresent(rec: JobRecord): Promise<boolean> {
    const p = this.store.paths(rec.id);
    const needed: string[] = [];
    if (rec.source.kind === 'archive')
      needed.push(join(p.inputs, INPUT_FILES.source(rec.source.format)));
    if (rec.dependencies) needed.push(join(p.inputs, INPUT_FILES.dependencies));
    for (const f of needed) {
      try {
        await access(f);
      } catch {
        return false;
      }
    }
    return true;
  }

  /**
   * Ends a job that no build is running for (one found on disk at start, or cancelled while
   * queued): record, scratch, a closing `complete` event.
   */
  private async finishUnrun(rec: JobRecord, state: JobState, error: JobError): Promise<void> {
    rec.state = state;
    rec.error = error;
    rec.finishedAt = this.now();
    rec.result = null;
    await this.store.save(rec);
    await this.store.removeScratch(rec.id);
    this.events.notePhase(rec.id, state);
    await this.events.complete(rec.id, completeEvent(rec));
  }

  // ---- submissions ----

  /**
   * Takes a slot for a new job before its body is read: refuses when stopping (503), in
   * single-build mode after the one build (409), when the queue is full (503) or the data
   * directory over its budget (507).
   */
  async admit(): Promise<Admission> {
    if (!this.accepting) throw new AgentError('AGENT_UNAVAILABLE', 'the agent is shutting down');
    if (this.settings.singleBuild && this.singleBuildTaken)
      throw new AgentError(
        'AGENT_SINGLE_BUILD_USED',
        'this agent runs a single build and already accepted it',
      );
    if (this.queue.length + this.admitting >= this.settings.limits.maxQueuedJobs)
      throw new AgentError('AGENT_UNAVAILABLE', 'the queue is full; try again later');
    if (this.settings.singleBuild) this.singleBuildTaken = true;
    this.admitting++;
    let settled = false;
    const settle = (accepted: boolean): boolean => {
      if (settled) return false;
      settled = true;
      this.admitting--;
      if (!accepted && this.settings.singleBuild) this.singleBuildTaken = false;
      return true;
    };
    try {
      await this.disk.check((bytes) => this.makeRoom(bytes));
      const id = newJobId();
      const paths = await this.store.create(id);
      return {
        id,
        paths,
        accepted: () => void settle(true),
        release: async () => {
          if (settle(false)) await this.store.remove(id);
        },
      };
    } catch (err) {
      settle(false);
      throw err;
    }
  }

  /** Records a submitted job (durably) and queues it. */
  async accept(adm: Admission, sub: Submission): Promise<JobRecord> {
    const rec: JobRecord = {
      version: 1,
      id: adm.id,
      state: 'queued',
      createdAt: this.now(),
      startedAt: null,
      finishedAt: null,
      nonce: sub.nonce ?? newNonce(),
      source:
        sub.source.kind === 'git'
          ? sub.source
          : {
              kind: 'archive',
              format: sub.source.format,
              name: sub.source.name,
              bytes: sub.source.bytes,
            },
      config: sub.config,
      dependencies: sub.dependencies ? { bytes: sub.dependencies.bytes } : null,
      workdir: sub.workdir,
      repository: sub.repository,
      oidcToken: sub.oidcToken,
      error: null,
      result: null,
    };
    if (!this.accepting) throw new AgentError('AGENT_UNAVAILABLE', 'the agent is shutting down');
    await this.store.save(rec);
    adm.accepted();
    this.records.set(rec.id, rec);
    this.events.notePhase(rec.id, 'queued');
    await this.events.open(rec.id);
    this.queue.push(rec.id);
    this.events.emit(rec.id, 'queued', { job_id: rec.id, position: this.queue.position(rec.id) });
    this.disk.add(
      (rec.source.kind === 'archive' ? rec.source.bytes : 0) + (rec.dependencies?.bytes ?? 0),
    );
    this.log.info('job accepted', {
      job_id: rec.id,
      source: rec.source.kind === 'git' ? 'repo_url' : rec.source.format,
      nonce_from: sub.nonce === null ? 'agent' : 'client',
      dependencies: rec.dependencies ? 'client' : 'agent',
    });
    return rec;
  }

  // ---- reading ----

  /** A job's record, or AGENT_NOT_FOUND. */
  get(id: string): JobRecord {
    const rec = this.records.get(id);
    if (!rec) throw new AgentError('AGENT_NOT_FOUND', 'no such job');
    return rec;
  }

  /** A job as clients see it. */
  view(id: string): JobView {
    const rec = this.get(id);
    return jobView(rec, this.events.phase(id) ?? rec.state, this.now());
  }

  /**
   * Streams a job's events after `afterId` to `send`, then calls `end` after `complete`. Live jobs
   * replay their backlog then follow; finished ones are read from their file. Returns a function
   * that stops the subscription.
   */
  followEvents(
    id: string,
    afterId: number,
    send: (e: AgentEvent) => void | Promise<void>,
    end: () => void,
  ): Promise<() => void> {
    this.get(id);
    return this.events.follow(id, afterId, send, end);
  }

  /** The bundle of a succeeded job; 409 while it is not finished or when it has no result. */
  result(id: string): { file: string; sha256: string; bytes: number } {
    const rec = this.get(id);
    if (!isFinished(rec.state))
      throw new AgentError(
        'AGENT_NOT_FINISHED',
        `the job is ${rec.state}; its result is not ready`,
      );
    if (rec.state !== 'succeeded' || rec.result === null) {
      this.noteResultFetched(id);
      const e = rec.error;
      throw new AgentError(
        'AGENT_NO_RESULT',
        `the job ${rec.state === 'cancelled' ? 'was cancelled' : 'failed'}: ${e?.message ?? 'no result'}`,
      );
    }
    return {
      file: this.store.paths(id).result,
      sha256: rec.result.sha256,
      bytes: rec.result.bytes,
    };
  }

  /** Called when a result has been sent in full (or a failed job's answer given). */
  noteResultFetched(id: string): void {
    if (!this.settings.singleBuild) return;
    const rec = this.records.get(id);
    if (rec && isFinished(rec.state)) this.singleBuildServedResolve();
  }

  /** Numbers for `/metrics`. */
  snapshot(): MetricsSnapshot {
    const jobsByState = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<
      JobState,
      number
    >;
    for (const r of this.records.values()) jobsByState[r.state]++;
    const inUse = this.pool.inUse;
    return {
      jobsByState,
      queueLength: this.queue.length,
      runningJobs: this.queue.active,
      runningEnclaves: inUse.enclaves,
      enclaveCpusInUse: inUse.cpus,
      enclaveMemoryMiBInUse: inUse.memoryMiB,
      capacity: this.pool.capacity,
      dataBytes: this.disk.bytes,
      sseSubscribers: this.events.subscribers,
    };
  }

  // ---- cancelling ----

  /**
   * Cancels a job: a queued one leaves the queue; a running one is aborted and its enclave
   * stopped (waits up to CANCEL_WAIT_MS for that). 409 when it already ended.
   */
  async cancel(id: string): Promise<JobView> {
    const rec = this.get(id);
    if (isFinished(rec.state))
      throw new AgentError('AGENT_ALREADY_FINISHED', `the job already ended (${rec.state})`);
    if (this.queue.remove(id)) {
      await this.finishUnrun(rec, 'cancelled', {
        type: 'cancelled',
        code: 'AGENT_CANCELLED',
        message: 'cancelled before it started',
      });
      this.metrics.jobFinished('cancelled', null);
      this.log.info('job cancelled while queued', { job_id: id });
      return this.view(id);
    }
    const done = this.queue.abort(id, 'cancel' satisfies AbortReason);
    if (done) {
      this.events.notePhase(id, 'cancelling');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, CANCEL_WAIT_MS)))]);
      clearTimeout(timer);
    }
    return this.view(id);
  }

  // ---- running ----

  private async runJob(id: string, signal: AbortSignal): Promise<void> {
    const rec = this.records.get(id);
    if (!rec) return;
    await runJob(rec, signal, {
      settings: this.settings,
      store: this.store,
      events: this.events,
      pool: this.pool,
      backend: this.backend,
      executor: this.executor,
      disk: this.disk,
      metrics: this.metrics,
      log: this.log,
      now: this.now,
      ...(this.sizing ? { sizing: this.sizing } : {}),
    });
    void this.prune();
  }

  /**
   * Removes finished jobs older than the retention age, then the oldest while results add up to
   * more than the retention budget (in single-build mode the one job is kept); then evicts
   * dependency sets, least recently used first, while the cache is over its budget.
   */
  prune(): Promise<void> {
    this.pruning ??= this.pruneNow().finally(() => (this.pruning = null));
    return this.pruning;
  }

  private async pruneNow(): Promise<void> {
    if (!this.settings.singleBuild)
      for (const { record: r, reason } of selectPrunable(
        this.records.values(),
        this.now(),
        this.settings.retention,
      )) {
        await this.store.remove(r.id);
        this.records.delete(r.id);
        this.events.forget(r.id);
        this.disk.subtract(r.result?.bytes ?? 0);
        this.log.info('job pruned', { job_id: r.id, reason });
      }
    try {
      this.noteEviction(
        await this.cache.evict({ maxBytes: this.settings.retention.maxCacheBytes }),
        'cache_bytes',
      );
    } catch (err) {
      this.log.warn('cannot evict from the dependency cache', { error: (err as Error).message });
    }
  }

  /**
   * Frees `bytes` for a new job when the data directory is over its budget or the disk nearly
   * full, by evicting unused dependency sets (least recently used first); returns what it freed.
   */
  private async makeRoom(bytes: number): Promise<number> {
    try {
      const e = await this.cache.evict({
        maxBytes: this.settings.retention.maxCacheBytes,
        free: bytes,
      });
      this.noteEviction(e, 'storage');
      return e.bytes;
    } catch (err) {
      this.log.warn('cannot evict from the dependency cache', { error: (err as Error).message });
      return 0;
    }
  }

  private noteEviction(e: Eviction, reason: 'cache_bytes' | 'storage'): void {
    for (const entry of e.evicted)
      this.log.info('dependency set evicted', { entry: entry.name, bytes: entry.bytes, reason });
    this.disk.subtract(e.bytes);
  }

  // ---- stopping ----

  /**
   * Stops the agent: no new jobs; running builds get `shutdownGraceMs` to finish, then are
   * aborted (their enclaves stopped) and marked failed (`agent_stopped`); queued jobs stay queued
   * on disk and resume at the next start.
   */
  async shutdown(): Promise<void> {
    this.accepting = false;
    this.queue.pause();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.queue.active > 0) {
      this.log.info('waiting for running builds', {
        running: this.queue.active,
        grace_ms: this.settings.shutdownGraceMs,
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.queue.idle(),
        new Promise<void>((r) => {
          this.endGrace = r;
          timer = setTimeout(r, this.settings.shutdownGraceMs);
        }),
      ]);
      clearTimeout(timer);
      for (const id of this.queue.runningIds()) {
        this.log.warn('stopping a running build', { job_id: id });
        void this.queue.abort(id, 'shutdown' satisfies AbortReason);
      }
      await this.queue.idle();
    }
    await this.pruning;
    await this.events.closeAll();
    await this.store.close();
  }

  /** Cuts the shutdown grace period short (a second signal). */
  hurryShutdown(): void {
    this.endGrace();
  }
}
