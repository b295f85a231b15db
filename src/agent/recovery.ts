/**
 * What the agent finds at start from its last run: jobs that were running are failed ("agent
 * restarted during the build"), queued jobs whose inputs are still there are queued again in
 * their order, and the enclaves and dependency-cache files the last run left are removed.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnclaveBackend } from '../enclave/index.js';
import type { DependencyCache } from './cache.js';
import type { EventHub } from './event-hub.js';
import { INPUT_FILES } from './intake.js';
import type { JobError, JobRecord, JobState } from './job.js';
import { completeEvent } from './job-outcome.js';
import type { Logger } from './log.js';
import type { JobStore } from './store.js';

/** What ending a job without a build needs. */
export interface UnrunParts {
  store: JobStore;
  events: EventHub;
  now: () => number;
}

/** What recovery needs of the agent. */
export interface RecoveryParts extends UnrunParts {
  records: Map<string, JobRecord>;
  backend: EnclaveBackend;
  cache: DependencyCache;
  log: Logger;
}

/**
 * Ends a job that no build is running for (one found on disk at start, or cancelled while
 * queued): record, scratch, a closing `complete` event.
 */
export async function finishUnrun(
  p: UnrunParts,
  rec: JobRecord,
  state: JobState,
  error: JobError,
): Promise<void> {
  rec.state = state;
  rec.error = error;
  rec.finishedAt = p.now();
  rec.result = null;
  await p.store.save(rec);
  await p.store.removeScratch(rec.id);
  p.events.notePhase(rec.id, state);
  await p.events.complete(rec.id, completeEvent(rec));
}

async function inputsPresent(store: JobStore, rec: JobRecord): Promise<boolean> {
  const p = store.paths(rec.id);
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
 * Opens the store and settles every job of the last run into `p.records`; terminates the
 * enclaves and removes the cache files the last run left. Returns the ids of the queued jobs to
 * queue again, in their order.
 */
export async function recoverJobs(p: RecoveryParts): Promise<string[]> {
  const found = await p.store.open();
  for (const id of found.removedIncomplete)
    p.log.info('removed an upload that never completed', { job_id: id });
  for (const u of found.unreadable)
    p.log.error('job record unreadable; left in place', { job_id: u.id, reason: u.reason });
  const requeue: string[] = [];
  for (const rec of found.records) {
    p.records.set(rec.id, rec);
    p.events.notePhase(rec.id, rec.state);
    if (rec.state === 'running') {
      await finishUnrun(p, rec, 'failed', {
        type: 'agent_restarted',
        code: 'AGENT_INTERRUPTED',
        message: 'agent restarted during the build',
      });
      p.log.warn('job was running when the agent stopped; marked failed', { job_id: rec.id });
    } else if (rec.state === 'queued') {
      if (await inputsPresent(p.store, rec)) {
        await p.events.open(rec.id, true);
        requeue.push(rec.id);
      } else {
        await finishUnrun(p, rec, 'failed', {
          type: 'inputs_lost',
          code: 'AGENT_SOURCE_INVALID',
          message: 'the inputs of this queued job were not found after a restart',
        });
      }
    }
  }
  // Nothing runs yet, so every enclave this backend owns is a leftover of the last run.
  const orphans = await p.backend.cleanupOrphans(new Set());
  for (const enclave of orphans) p.log.warn('terminated an orphaned enclave', { enclave });
  // Nor does any build hold a cached dependency set.
  const leftovers = await p.cache.removeLeftovers();
  if (leftovers > 0)
    p.log.info('removed dependency-cache files of the last run', { count: leftovers });
  return requeue;
}
