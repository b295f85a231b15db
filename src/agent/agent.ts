/**
 * The agent: accepts jobs, keeps them durably, runs them in order within the host's enclave
 * budget, publishes their events and serves their results. The HTTP layer (./server.ts) is a thin
 * skin over this class.
 */
import type { EnclaveBackend, EnclaveSpec } from '../enclave/index.js';
import type { Admission } from './admission.js';
import { AdmissionGate } from './admission.js';
import { DependencyCache, agentCacheDir } from './cache.js';
import type { AgentSettings } from './config.js';
import { DiskBudget } from './disk.js';
import { AgentError } from './errors.js';
import { EventHub } from './event-hub.js';
import type { AgentEvent } from './events.js';
import type { BuildExecutor } from './executor.js';
import type { Submission } from './intake.js';
import { queuedRecord } from './intake.js';
import type { JobRecord, JobState, JobView } from './job.js';
import { JOB_STATES, isFinished, jobView } from './job.js';
import type { AbortReason } from './job-outcome.js';
import type { Logger } from './log.js';
import { AgentMetrics } from './metrics.js';
import type { MetricsSnapshot } from './metrics.js';
import { JobQueue } from './queue.js';
import { ResourcePool } from './resources.js';
import type { ResourceRequest } from './resources.js';
import { runJob } from './runner.js';
import type { UnrunParts } from './recovery.js';
import { finishUnrun, recoverJobs } from './recovery.js';
import { PRUNE_INTERVAL_MS, Pruner } from './retention.js';
import { JobStore } from './store.js';

export type { Admission } from './admission.js';

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
  private readonly pruner: Pruner;
  private readonly gate: AdmissionGate;
  private readonly backend: EnclaveBackend;
  private readonly executor: BuildExecutor;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly unrunParts: UnrunParts;
  private readonly sizing:
    ((spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>) | undefined;
  private accepting = true;
  private pruneTimer: NodeJS.Timeout | null = null;
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
    this.pruner = new Pruner({
      settings: o.settings,
      busy: (id) => this.queue.isRunning(id),
      store: this.store,
      records: this.records,
      events: this.events,
      disk: this.disk,
      cache: this.cache,
      log: this.log,
      now: this.now,
    });
    this.unrunParts = { store: this.store, events: this.events, now: this.now };
    this.gate = new AdmissionGate({
      settings: o.settings,
      queue: this.queue,
      disk: this.disk,
      store: this.store,
      makeRoom: (bytes) => this.pruner.makeRoom(bytes),
    });
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
    const requeue = await recoverJobs({
      store: this.store,
      records: this.records,
      events: this.events,
      backend: this.backend,
      cache: this.cache,
      log: this.log,
      now: this.now,
    });
    if (this.settings.singleBuild && this.records.size > 0) this.gate.singleBuildTaken = true;
    await this.prune();
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    for (const id of requeue) {
      this.events.notePhase(id, 'queued');
      this.queue.push(id);
    }
    if (requeue.length > 0) this.log.info('queued jobs resumed', { count: requeue.length });
  }

  // ---- submissions ----

  /**
   * Takes a slot for a new job before its body is read: refuses when stopping (503), in
   * single-build mode after the one build (409), when the queue is full (503) or the data
   * directory over its budget (507).
   */
  async admit(): Promise<Admission> {
    if (!this.accepting) throw new AgentError('AGENT_UNAVAILABLE', 'the agent is shutting down');
    return this.gate.admit();
  }

  /** Records a submitted job (durably) and queues it. */
  async accept(adm: Admission, sub: Submission): Promise<JobRecord> {
    const rec = queuedRecord(adm.id, sub, this.now());
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
      await finishUnrun(this.unrunParts, rec, 'cancelled', {
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

  /** Removes old jobs and evicts dependency sets (see `Pruner.prune`). */
  prune(): Promise<void> {
    return this.pruner.prune();
  }

  /** Resolves when no job's runner is under way (every finished job fully written). */
  idle(): Promise<void> {
    return this.queue.idle();
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
    await this.pruner.running;
    await this.events.closeAll();
    await this.store.close();
  }

  /** Cuts the shutdown grace period short (a second signal). */
  hurryShutdown(): void {
    this.endGrace();
  }
}
