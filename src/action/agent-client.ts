/**
 * The agent's HTTP API as the action uses it: submit a build (multipart), follow its Server-Sent
 * Events (resuming with `Last-Event-ID` when the connection drops; see agent-events.ts), download
 * the bundle, cancel. Errors are `ActionError`s that say which request failed and what the agent
 * answered (see agent-http.ts).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { fromReadable } from '../util/bytes.js';
import type { AgentEvent, AgentEventType } from '../contracts/index.js';
import type { JobCompletion } from './agent-events.js';
import { followJob } from './agent-events.js';
import { AgentHttp, abortReason, sleepFor } from './agent-http.js';
import { ActionError } from './errors.js';
import { postMultipart } from './multipart.js';
import type { BuildSubmission } from './multipart.js';

export {
  DEFAULT_RECONNECT_MS,
  MAX_EVENT_IDLE_MS,
  MAX_EVENT_RECONNECTS,
  MAX_RECONNECT_MS,
  MAX_STATE_BODY_BYTES,
  STATE_TIMEOUT_MS,
} from './agent-events.js';
export type { JobCompletion } from './agent-events.js';
export { MAX_ERROR_BODY_BYTES } from './agent-http.js';

/** Time a cancellation request gets, ms. */
export const CANCEL_TIMEOUT_MS = 5000;

/** Event types of the agent (see its API). */
export type { AgentEvent, AgentEventType };

export type { BuildSubmission };

export interface AgentClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8723. */
  url: string;
  token: string | null;
  /** Sleeps between reconnections (injectable so that tests need not wait). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** A client of one agent. */
export class AgentClient {
  private readonly http: AgentHttp;
  private readonly base: string;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(o: AgentClientOptions) {
    this.http = new AgentHttp(o.url, o.token);
    this.base = this.http.base;
    this.sleep = o.sleep ?? sleepFor;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.http.headers(extra);
  }

  /** Submits a build; returns the job id and the nonce the agent recorded. */
  async submit(
    sub: BuildSubmission,
    signal: AbortSignal,
  ): Promise<{ jobId: string; nonce: string }> {
    const what = 'submitting the build';
    const res = await postMultipart(`${this.base}/build`, this.headers(), sub, signal).catch(
      (e: unknown) => {
        if (signal.aborted) throw abortReason(signal);
        const code = (e as NodeJS.ErrnoException).code;
        throw new ActionError(
          'AGENT_UNREACHABLE',
          `${what}: no answer from the agent at ${this.base} (${code ?? (e as Error).message})`,
          { cause: e },
        );
      },
    );
    if (res.status < 200 || res.status >= 300)
      throw this.http.refusalOf(what, res.status, res.body);
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch (e) {
      throw new ActionError('AGENT_PROTOCOL', `${what}: the agent did not answer JSON`, {
        cause: e,
      });
    }
    const b = body as { job_id?: unknown; nonce?: unknown };
    if (typeof b.job_id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(b.job_id))
      throw new ActionError('AGENT_PROTOCOL', `${what}: the answer has no valid job_id`);
    return { jobId: b.job_id, nonce: typeof b.nonce === 'string' ? b.nonce : '' };
  }

  /**
   * Follows the job's events until `complete`, calling `onEvent` once per event in order. A
   * dropped or silent connection is resumed with `Last-Event-ID`, after asking the job's state:
   * a job that ended meanwhile is reported as it ended (`GET /build/{id}`), even when its
   * `complete` never reaches this client. After MAX_EVENT_RECONNECTS failures in a row the agent
   * is declared unreachable.
   */
  follow(
    jobId: string,
    onEvent: (e: AgentEvent) => void,
    signal: AbortSignal,
  ): Promise<JobCompletion> {
    return followJob(this.http, this.sleep, jobId, onEvent, signal);
  }

  /** Downloads the bundle of a finished job to `dest`; checks it against the ETag (its SHA-256). */
  async downloadResult(
    jobId: string,
    dest: string,
    signal: AbortSignal,
  ): Promise<{ bytes: number; sha256: string }> {
    const res = await this.http.request(
      `downloading the bundle of job ${jobId}`,
      `/build/${jobId}/result`,
      {
        headers: this.headers({ Accept: 'application/gzip' }),
        signal,
      },
    );
    if (res.body === null)
      throw new ActionError('AGENT_PROTOCOL', `downloading the bundle of job ${jobId}: empty body`);
    const hash = createHash('sha256');
    let bytes = 0;
    const body = res.body;
    try {
      await pipeline(
        async function* () {
          for await (const c of fromReadable(body)) {
            hash.update(c);
            bytes += c.length;
            yield c;
          }
        },
        createWriteStream(dest, { mode: 0o644 }),
      );
    } catch (e) {
      await rm(dest, { force: true });
      if (signal.aborted) throw abortReason(signal);
      throw new ActionError(
        'AGENT_UNREACHABLE',
        `downloading the bundle of job ${jobId}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const sha256 = hash.digest('hex');
    const etag = /^"?([0-9a-f]{64})"?$/.exec(res.headers.get('etag') ?? '')?.[1];
    if (etag !== undefined && etag !== sha256)
      throw new ActionError(
        'AGENT_PROTOCOL',
        `downloading the bundle of job ${jobId}: received ${sha256}, the agent announced ${etag} (a truncated or altered download)`,
      );
    return { bytes, sha256 };
  }

  /** Asks the agent to cancel a job; best effort, bounded in time. */
  async cancel(jobId: string): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/build/${jobId}`, {
        method: 'DELETE',
        headers: this.headers(),
        signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => undefined);
      return res.ok;
    } catch {
      return false;
    }
  }
}
