/**
 * Retention of finished jobs: which to remove, by age and by the total size of their results;
 * and the pruner that removes them and keeps the dependency cache within its budget.
 */
import type { DependencyCache, Eviction } from './cache.js';
import type { AgentSettings } from './config.js';
import type { DiskBudget } from './disk.js';
import type { EventHub } from './event-hub.js';
import type { JobRecord } from './job.js';
import { isFinished } from './job.js';
import type { Logger } from './log.js';
import type { JobStore } from './store.js';

/** How often old jobs are pruned (also at start and after every job). */
export const PRUNE_INTERVAL_MS = 10 * 60_000;
/**
 * A result is kept at least this long after its job ended, whatever the retention says: its
 * client needs time to fetch it.
 */
export const MIN_RESULT_HOLD_MS = 15 * 60_000;

export interface RetentionSettings {
  maxAgeMs: number;
  maxTotalBytes: number;
}

/**
 * The finished jobs to remove at `now`, oldest first: those older than `maxAgeMs`, then the
 * oldest while the results add up to more than `maxTotalBytes`; never one that ended less than
 * MIN_RESULT_HOLD_MS ago.
 */
export function selectPrunable(
  records: Iterable<JobRecord>,
  now: number,
  retention: RetentionSettings,
): { record: JobRecord; reason: 'age' | 'total_bytes' }[] {
  const finished = [...records]
    .filter((r) => isFinished(r.state) && r.finishedAt !== null)
    .sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
  let total = finished.reduce((n, r) => n + (r.result?.bytes ?? 0), 0);
  const out: { record: JobRecord; reason: 'age' | 'total_bytes' }[] = [];
  for (const r of finished) {
    const age = now - (r.finishedAt ?? now);
    if (age < MIN_RESULT_HOLD_MS) break;
    const expired = age > retention.maxAgeMs;
    if (!expired && total <= retention.maxTotalBytes) continue;
    out.push({ record: r, reason: expired ? 'age' : 'total_bytes' });
    total -= r.result?.bytes ?? 0;
  }
  return out;
}

/** What the pruner needs of the agent. */
export interface PrunerParts {
  settings: AgentSettings;
  /**
   * True while a job's runner has not returned: its record may read finished while its scratch
   * and event log are still being written, and its folder is not removed under it.
   */
  busy: (id: string) => boolean;
  store: JobStore;
  records: Map<string, JobRecord>;
  events: EventHub;
  disk: DiskBudget;
  cache: DependencyCache;
  log: Logger;
  now: () => number;
}

/** Removes old jobs and evicts dependency sets; one pruning at a time. */
export class Pruner {
  private pruning: Promise<void> | null = null;

  constructor(private readonly p: PrunerParts) {}

  /**
   * Removes finished jobs older than the retention age, then the oldest while results add up to
   * more than the retention budget (in single-build mode the one job is kept); then evicts
   * dependency sets, least recently used first, while the cache is over its budget.
   */
  prune(): Promise<void> {
    this.pruning ??= this.pruneNow().finally(() => (this.pruning = null));
    return this.pruning;
  }

  /** The pruning under way, if any. */
  get running(): Promise<void> | null {
    return this.pruning;
  }

  private async pruneNow(): Promise<void> {
    const p = this.p;
    if (!p.settings.singleBuild)
      for (const { record: r, reason } of selectPrunable(
        [...p.records.values()].filter((r) => !p.busy(r.id)),
        p.now(),
        p.settings.retention,
      )) {
        await p.store.remove(r.id);
        p.records.delete(r.id);
        p.events.forget(r.id);
        p.disk.subtract(r.result?.bytes ?? 0);
        p.log.info('job pruned', { job_id: r.id, reason });
      }
    try {
      this.noteEviction(
        await p.cache.evict({ maxBytes: p.settings.retention.maxCacheBytes }),
        'cache_bytes',
      );
    } catch (err) {
      p.log.warn('cannot evict from the dependency cache', { error: (err as Error).message });
    }
  }

  /**
   * Frees `bytes` for a new job when the data directory is over its budget or the disk nearly
   * full, by evicting unused dependency sets (least recently used first); returns what it freed.
   */
  async makeRoom(bytes: number): Promise<number> {
    try {
      const e = await this.p.cache.evict({
        maxBytes: this.p.settings.retention.maxCacheBytes,
        free: bytes,
      });
      this.noteEviction(e, 'storage');
      return e.bytes;
    } catch (err) {
      this.p.log.warn('cannot evict from the dependency cache', { error: (err as Error).message });
      return 0;
    }
  }

  private noteEviction(e: Eviction, reason: 'cache_bytes' | 'storage'): void {
    for (const entry of e.evicted)
      this.p.log.info('dependency set evicted', { entry: entry.name, bytes: entry.bytes, reason });
    this.p.disk.subtract(e.bytes);
  }
}
