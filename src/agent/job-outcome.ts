/**
 * How a job ends, as clients see it: the stable `error.type` of a failure (from our typed errors)
 * and the data of its `complete` event.
 */
import { TeeCompileError } from '../errors.js';
import { isAgentError, type AgentErrorCode } from './errors.js';
import type { JobError, JobRecord } from './job.js';

/** Why a running job was aborted. */
export type AbortReason = 'cancel' | 'shutdown';

/** `error.type` of the agent's own codes; the pipeline's codes are `build_failed`. */
const AGENT_TYPES: Partial<Record<AgentErrorCode, string>> = {
  AGENT_SOURCE_INVALID: 'source_invalid',
  AGENT_CLONE_FAILED: 'clone_failed',
  AGENT_RESOURCES_EXCEEDED: 'resources_exceeded',
  AGENT_CANCELLED: 'cancelled',
};

/**
 * The error recorded for a job that threw `err` (or was aborted for `reason`). Our typed errors
 * keep their code; anything else is a bug and is `internal`.
 */
export function jobErrorOf(err: unknown, reason: AbortReason | undefined): JobError {
  if (reason === 'cancel')
    return { type: 'cancelled', code: 'AGENT_CANCELLED', message: 'cancelled by the client' };
  if (reason === 'shutdown')
    return {
      type: 'agent_stopped',
      code: 'AGENT_CANCELLED',
      message: 'the agent was stopped during the build',
    };
  if (isAgentError(err))
    return { type: AGENT_TYPES[err.code] ?? 'internal', code: err.code, message: err.message };
  if (err instanceof TeeCompileError) {
    const code = String((err as TeeCompileError).code);
    // An archive refused on its way into the enclave is the source's fault, not the build's.
    return {
      type: code.startsWith('ARCHIVE_') ? 'source_invalid' : 'build_failed',
      code,
      message: err.message,
    };
  }
  return { type: 'internal', message: `internal error: ${(err as Error)?.message ?? String(err)}` };
}

/** Data of a finished job's `complete` event (Kettle's `ok` and `error_type`). */
export function completeEvent(rec: JobRecord): Record<string, unknown> {
  if (rec.state === 'succeeded') return { ok: true, job_id: rec.id, sha256: rec.result?.sha256 };
  return {
    ok: false,
    job_id: rec.id,
    error_type: rec.error?.type ?? 'internal',
    message: rec.error?.message ?? '',
  };
}
