/**
 * The job queue: first in, first out, at most `maxConcurrent` jobs running at once. Each running
 * job has an AbortController; cancelling a job aborts it (its enclave is then stopped).
 */

/** Runs one job to its end; must not throw (failures are recorded by the job itself). */
export type JobRunner = (id: string, signal: AbortSignal) => Promise<void>;

/** FIFO queue with bounded concurrency. */
export class JobQueue {
  private readonly waiting: string[] = [];
  private readonly running = new Map<string, { ctl: AbortController; done: Promise<void> }>();
  private paused = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly runner: JobRunner,
  ) {}

  /** Jobs waiting. */
  get length(): number {
    return this.waiting.length;
  }

  /** Jobs running. */
  get active(): number {
    return this.running.size;
  }

  /** 1-based position of a waiting job, or 0. */
  position(id: string): number {
    return this.waiting.indexOf(id) + 1;
  }

  /** Appends a job. */
  push(id: string): void {
    this.waiting.push(id);
    this.pump();
  }

  /** Removes a waiting job; false when it is not waiting. */
  remove(id: string): boolean {
    const i = this.waiting.indexOf(id);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  /** Aborts a running job; resolves when its runner has returned. False when it is not running. */
  abort(id: string, reason: unknown): Promise<void> | false {
    const r = this.running.get(id);
    if (!r) return false;
    r.ctl.abort(reason);
    return r.done;
  }

  /** Whether the job's runner is under way (it has not returned yet). */
  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /** Ids of the running jobs. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  /** Stops starting jobs (shutdown); waiting jobs stay where they are. */
  pause(): void {
    this.paused = true;
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.paused && this.running.size < this.maxConcurrent && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const ctl = new AbortController();
      const done = this.runner(id, ctl.signal)
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(id);
          if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
          this.pump();
        });
      this.running.set(id, { ctl, done });
    }
  }
}
