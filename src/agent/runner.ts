/**
 * Running one job: prepare its source on the host, build it through the executor in an enclave
 * that takes its share of the host's budget, store the result durably, record how it ended.
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnclaveBackend, EnclaveSpec } from '../enclave/index.js';
import { hashFile } from '../util/node.js';
import type { AgentSettings } from './config.js';
import type { DiskBudget } from './disk.js';
import { AgentError } from './errors.js';
import type { EventHub } from './event-hub.js';
import type { BuildExecutor } from './executor.js';
import { commitFile } from './fsutil.js';
import { INPUT_FILES } from './intake.js';
import type { JobRecord } from './job.js';
import type { AbortReason } from './job-outcome.js';
import { completeEvent, jobErrorOf } from './job-outcome.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import { prepareSource, checkWorkdir } from './prepare.js';
import type { ResourcePool, ResourceRequest } from './resources.js';
import { budgetedBackend } from './resources.js';
import type { JobPaths, JobStore } from './store.js';

/** What running a job needs from the agent. */
export interface RunContext {
  settings: AgentSettings;
  store: JobStore;
  events: EventHub;
  pool: ResourcePool;
  backend: EnclaveBackend;
  executor: BuildExecutor;
  disk: DiskBudget;
  metrics: AgentMetrics;
  log: Logger;
  now: () => number;
  sizing?: (spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>;
}

/**
 * Runs a queued job to its end (never throws): `running` is recorded, then `succeeded` with the
 * result, or `failed`/`cancelled` with the error; scratch files are removed; `complete` is sent.
 * The signal aborts it (reason `cancel` or `shutdown`).
 */
export async function runJob(rec: JobRecord, signal: AbortSignal, c: RunContext): Promise<void> {
  const id = rec.id;
  const p = c.store.paths(id);
  try {
    rec.state = 'running';
    rec.startedAt = c.now();
    await c.store.save(rec);
    c.events.emit(id, 'started', { job_id: id });
    c.events.setPhase(id, 'preparing');
    c.log.info('job started', { job_id: id, queued_ms: rec.startedAt - rec.createdAt });
    await build(rec, p, signal, c);
  } catch (err) {
    const reason = signal.aborted ? (signal.reason as AbortReason) : undefined;
    rec.state = reason === 'cancel' ? 'cancelled' : 'failed';
    rec.error = jobErrorOf(err, reason);
    rec.result = null;
    if (rec.error.type === 'internal')
      c.log.error('job failed with an internal error', {
        job_id: id,
        error: (err as Error)?.stack ?? String(err),
      });
  }
  rec.finishedAt = c.now();
  try {
    await c.store.save(rec);
  } catch (err) {
    c.log.error('cannot save the job record', { job_id: id, error: (err as Error).message });
  }
  await c.store.removeScratch(id).catch(() => undefined);
  c.events.notePhase(id, rec.state);
  await c.events.complete(id, completeEvent(rec));
  const buildMs = rec.startedAt === null ? null : rec.finishedAt - rec.startedAt;
  c.metrics.jobFinished(rec.state, buildMs === null ? null : buildMs / 1000);
  c.log.info('job finished', {
    job_id: id,
    state: rec.state,
    build_ms: buildMs,
    error_type: rec.error?.type,
    error_code: rec.error?.code,
    bytes: rec.result?.bytes,
  });
}

async function build(
  rec: JobRecord,
  p: JobPaths,
  signal: AbortSignal,
  c: RunContext,
): Promise<void> {
  const id = rec.id;
  const l = c.settings.limits;
  const src = await prepareSource(rec, {
    inputs: {
      source:
        rec.source.kind === 'archive'
          ? join(p.inputs, INPUT_FILES.source(rec.source.format))
          : null,
    },
    workDir: p.work,
    maxTreeBytes: l.maxSourceTreeBytes,
    clone: {
      depth: l.cloneDepth,
      timeoutMs: l.cloneTimeoutMs,
      allowHttp: c.settings.allowHttpRepos,
    },
    signal,
  });
  await checkWorkdir(src.dir, rec.workdir);
  if (signal.aborted) throw new AgentError('AGENT_CANCELLED', 'cancelled');
  const backend = budgetedBackend(c.backend, c.pool, {
    signal,
    onWaiting: (req) =>
      c.events.setPhase(id, 'waiting-for-resources', { cpus: req.cpus, memory_mib: req.memoryMiB }),
    onStarted: (enclave) => c.log.info('enclave started', { job_id: id, enclave: enclave.id }),
    ...(c.sizing ? { sizing: c.sizing } : {}),
  });
  const outcome = await c.executor.run(
    {
      jobId: id,
      sourceDir: src.dir,
      workdir: rec.workdir,
      // A repo_url job records its clone URL; the two are never both given.
      repository: src.repository ?? rec.repository,
      oidcToken: rec.oidcToken ?? null,
      config: rec.config,
      dependencySet: rec.dependencies ? join(p.inputs, INPUT_FILES.dependencies) : null,
      nonce: rec.nonce,
      workDir: p.work,
      bundleFile: p.resultTmp,
    },
    {
      signal,
      backend,
      onProgress: (pr) => {
        if (pr.kind === 'phase') c.events.setPhase(id, pr.phase, pr.detail);
        else c.events.emit(id, 'log', { stream: pr.stream, text: pr.text });
      },
    },
  );
  c.events.setPhase(id, 'storing-result');
  if (outcome.bundleFile !== p.resultTmp) await rename(outcome.bundleFile, p.resultTmp);
  // Hashed as it arrived from the enclave when the executor says so; else read once here.
  const { sha256, bytes } = outcome.bundle ?? (await hashFile(p.resultTmp));
  // The result is in place (fsynced, renamed, directory fsynced) before the record says so.
  await commitFile(p.resultTmp, p.result);
  rec.result = { sha256, bytes, subjects: outcome.subjects, source: outcome.source };
  rec.state = 'succeeded';
  rec.error = null;
  c.disk.add(bytes);
}
