/**
 * Retention of finished jobs: which to remove, by age and by the total size of their results.
 */
import type { JobRecord } from './job.js';
import { isFinished } from './job.js';

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
