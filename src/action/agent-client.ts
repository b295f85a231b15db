/**
 * The agent's HTTP API as the action uses it: submit a build (multipart), follow its Server-Sent
 * Events (resuming with `Last-Event-ID` when the connection drops), download the bundle, cancel.
 * Errors are `ActionError`s that say which request failed and what the agent answered
 * (`{"error": {"type", "message", "field"?}}`).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { fromReadable } from '../util/bytes.js';
import { ActionError } from './errors.js';
import { postMultipart } from './multipart.js';
import { readSse } from './sse.js';

/** Connections to the event stream that may fail in a row (without any new event) before giving up. */
export const MAX_EVENT_RECONNECTS = 10;
/** Delay before reconnecting when the agent suggests none (its `retry:`), ms. */
export const DEFAULT_RECONNECT_MS = 2000;
/** Longest reconnection delay honoured, whatever the agent suggests, ms. */
export const MAX_RECONNECT_MS = 30_000;
/** A stream silent this long (no event, no keep-alive) is treated as dropped, ms. */
export const MAX_EVENT_IDLE_MS = 120_000;
/** Time a request for a job's state gets, ms. */
export const STATE_TIMEOUT_MS = 10_000;
/** Time a cancellation request gets, ms. */
export const CANCEL_TIMEOUT_MS = 5000;
/** Largest error body read from the agent. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Largest job state (`GET /build/{id}`) read from the agent. */
export const MAX_STATE_BODY_BYTES = 1024 * 1024;

/** Event types of the agent (see its API). */
export type AgentEventType = 'queued' | 'started' | 'phase' | 'log' | 'complete';

/** One event of a job. */
export interface AgentEvent {
  id: number;
  event: AgentEventType;
  data: Record<string, unknown>;
}

/** What the `complete` event says. */
export type JobCompletion =
  { ok: true; sha256: string | null } | { ok: false; errorType: string; message: string };

/** A build request. */
export interface BuildSubmission {
  /** The source archive (.tar.gz) to upload. */
  source: string;
  /** The dependency set (tar), or null. */
  dependencies: string | null;
  nonce: string;
  /** build.json text sent as the `config` field, or null to let the agent read the source's. */
  config: string | null;
  /** Directory of build.json in the source, where the agent builds (`.`: the root, not sent). */
  workdir: string;
  /** Repository URL the agent records as the source's, or null. */
  repository: string | null;
  /** The workflow's OIDC token (audience `tee-compile:<nonce>`), or null/absent. */
  oidcToken?: string | null;
}

export interface AgentClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8723. */
  url: string;
  token: string | null;
  /** Sleeps between reconnections (injectable so that tests need not wait). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof ActionError
    ? signal.reason
    : new ActionError('CANCELLED', 'cancelled', { cause: signal.reason });
}

function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const t = setTimeout(done, ms);
    function done(): void {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(t);
      reject(abortReason(signal));
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (res.body === null) return '';
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of fromReadable(res.body)) {
    parts.push(c);
    n += c.length;
    if (n > limit) {
      await res.body.cancel().catch(() => undefined);
      break;
    }
  }
  return Buffer.concat(parts).subarray(0, limit).toString('utf8');
}

/** A client of one agent. */
export class AgentClient {
  private readonly base: string;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(private readonly o: AgentClientOptions) {
    this.base = o.url.replace(/\/+$/, '');
    this.sleep = o.sleep ?? sleepFor;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.o.token === null ? extra : { ...extra, Authorization: `Bearer ${this.o.token}` };
  }

  private async request(
    what: string,
    path: string,
    init: RequestInit & { signal: AbortSignal },
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, init);
    } catch (e) {
      if (init.signal.aborted) throw abortReason(init.signal);
      const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
      const detail =
        typeof cause?.code === 'string'
          ? cause.code
          : typeof cause?.message === 'string'
            ? cause.message
            : (e as Error).message;
      throw new ActionError(
        'AGENT_UNREACHABLE',
        `${what}: no answer from the agent at ${this.base} (${detail})`,
        { cause: e },
      );
    }
    if (res.ok) return res;
    throw await this.refusal(what, res);
  }

  private async refusal(what: string, res: Response): Promise<ActionError> {
    return this.refusalOf(
      what,
      res.status,
      await readLimited(res, MAX_ERROR_BODY_BYTES).catch(() => ''),
    );
  }

  private refusalOf(what: string, status: number, text: string): ActionError {
    let type = '';
    let message = text.trim().slice(0, 500);
    let field: string | undefined;
    try {
      const body = JSON.parse(text) as {
        error?: { type?: unknown; message?: unknown; field?: unknown };
      };
      if (typeof body.error?.type === 'string') type = body.error.type;
      if (typeof body.error?.message === 'string') message = body.error.message;
      if (typeof body.error?.field === 'string') field = body.error.field;
    } catch {
      // Not the agent's error form (a proxy's page, say): its text is the message.
    }
    const hint = status === 401 ? " (set the agent-token input to the agent's token)" : '';
    const where = field === undefined ? '' : `, field ${field}`;
    return new ActionError(
      'AGENT_REJECTED',
      `${what}: the agent answered HTTP ${status}${type === '' ? '' : ` ${type}`}${where}: ${message}${hint}`,
      field === undefined ? {} : { path: field },
    );
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
    if (res.status < 200 || res.status >= 300) throw this.refusalOf(what, res.status, res.body);
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
  async follow(
    jobId: string,
    onEvent: (e: AgentEvent) => void,
    signal: AbortSignal,
  ): Promise<JobCompletion> {
    let lastId = 0;
    let failures = 0;
    let retryMs = DEFAULT_RECONNECT_MS;
    let lastError: unknown = null;
    let ended: JobCompletion | null = null;
    for (;;) {
      if (signal.aborted) throw abortReason(signal);
      const before = lastId;
      const conn = new AbortController();
      const onAbort = (): void => conn.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      let idle: NodeJS.Timeout | undefined;
      const touch = (): void => {
        clearTimeout(idle);
        idle = setTimeout(
          () => conn.abort(new Error('the event stream went silent')),
          MAX_EVENT_IDLE_MS,
        );
      };
      try {
        touch();
        const res = await this.request(`following job ${jobId}`, `/build/${jobId}/events`, {
          headers: this.headers({
            Accept: 'text/event-stream',
            ...(lastId > 0 ? { 'Last-Event-ID': String(lastId) } : {}),
          }),
          signal: conn.signal,
        });
        if (res.body === null) throw new Error('empty event stream');
        const body = res.body;
        const tapped = (async function* () {
          for await (const c of fromReadable(body)) {
            touch();
            yield c;
          }
        })();
        for await (const sse of readSse(tapped, (ms) => (retryMs = ms))) {
          const id = sse.id !== null && /^[0-9]{1,15}$/.test(sse.id) ? Number(sse.id) : NaN;
          // Events at or before the resume point may be replayed; each is delivered once.
          if (Number.isFinite(id) && id <= lastId) continue;
          const event = parseEvent(sse.event, sse.data, Number.isFinite(id) ? id : lastId + 1);
          if (event === null) continue;
          lastId = event.id;
          failures = 0;
          onEvent(event);
          if (event.event === 'complete') {
            await body.cancel().catch(() => undefined);
            return completion(event.data);
          }
        }
        lastError = new Error('the event stream ended before the job completed');
      } catch (e) {
        if (signal.aborted) throw abortReason(signal);
        // A refusal (401, 404) will not heal by reconnecting.
        if (e instanceof ActionError && e.code !== 'AGENT_UNREACHABLE') throw e;
        lastError = e;
      } finally {
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
      }
      // A job that ended while the stream was down (an agent restart fails the build it was
      // running) is reported as it ended, whatever became of its events: the stream is tried
      // once more at once for the events missed, then the state stands for `complete`.
      if (ended !== null) return ended;
      ended = await this.finished(jobId, signal);
      if (ended !== null) continue;
      if (lastId === before) failures++;
      if (failures >= MAX_EVENT_RECONNECTS)
        throw new ActionError(
          'AGENT_UNREACHABLE',
          `following job ${jobId}: the event stream failed ${failures} times in a row (${(lastError as Error)?.message ?? 'unknown'})`,
          { cause: lastError },
        );
      await this.sleep(Math.min(retryMs, MAX_RECONNECT_MS), signal);
    }
  }

  /**
   * How the job ended, from `GET /build/{id}`; null while it has not ended, or when the agent
   * gave no usable answer. A refusal (401, 404) is thrown: it will not heal.
   */
  private async finished(jobId: string, signal: AbortSignal): Promise<JobCompletion | null> {
    const conn = new AbortController();
    const onAbort = (): void => conn.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => conn.abort(new Error('no answer in time')), STATE_TIMEOUT_MS);
    try {
      const res = await this.request(`asking the state of job ${jobId}`, `/build/${jobId}`, {
        headers: this.headers({ Accept: 'application/json' }),
        signal: conn.signal,
      });
      const view = JSON.parse(await readLimited(res, MAX_STATE_BODY_BYTES)) as {
        state?: unknown;
        error?: { type?: unknown; message?: unknown };
        result?: { sha256?: unknown };
      };
      if (view.state === 'succeeded')
        return {
          ok: true,
          sha256: typeof view.result?.sha256 === 'string' ? view.result.sha256 : null,
        };
      if (view.state === 'failed' || view.state === 'cancelled')
        return {
          ok: false,
          errorType: typeof view.error?.type === 'string' ? view.error.type : view.state,
          message: typeof view.error?.message === 'string' ? view.error.message : '',
        };
      return null;
    } catch (e) {
      if (signal.aborted) throw abortReason(signal);
      if (e instanceof ActionError && e.code === 'AGENT_REJECTED') throw e;
      return null;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Downloads the bundle of a finished job to `dest`; checks it against the ETag (its SHA-256). */
  async downloadResult(
    jobId: string,
    dest: string,
    signal: AbortSignal,
  ): Promise<{ bytes: number; sha256: string }> {
    const res = await this.request(
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

const EVENT_TYPES: readonly string[] = ['queued', 'started', 'phase', 'log', 'complete'];

function parseEvent(type: string, data: string, id: number): AgentEvent | null {
  // Unknown event types are newer agents' additions: skipped, not an error.
  if (!EVENT_TYPES.includes(type)) return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    throw new ActionError(
      'AGENT_PROTOCOL',
      `the agent sent a ${type} event whose data is not JSON`,
    );
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ActionError(
      'AGENT_PROTOCOL',
      `the agent sent a ${type} event whose data is not an object`,
    );
  return { id, event: type as AgentEventType, data: v as Record<string, unknown> };
}

function completion(data: Record<string, unknown>): JobCompletion {
  if (data.ok === true)
    return { ok: true, sha256: typeof data.sha256 === 'string' ? data.sha256 : null };
  return {
    ok: false,
    errorType: typeof data.error_type === 'string' ? data.error_type : 'unknown',
    message: typeof data.message === 'string' ? data.message : '',
  };
}
