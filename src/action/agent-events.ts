/**
 * Following a job's Server-Sent Events until `complete`, resuming with `Last-Event-ID` when the
 * connection drops or goes silent, and asking the job's state meanwhile: a job that ended while
 * the stream was down is reported as it ended.
 */
import { fromReadable } from '../util/bytes.js';
import type { AgentEvent, AgentEventType } from '../contracts/index.js';
import type { AgentHttp } from './agent-http.js';
import { abortReason, readLimited } from './agent-http.js';
import { ActionError } from './errors.js';
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
/** Largest job state (`GET /build/{id}`) read from the agent. */
export const MAX_STATE_BODY_BYTES = 1024 * 1024;

/** What the `complete` event says. */
export type JobCompletion =
  { ok: true; sha256: string | null } | { ok: false; errorType: string; message: string };

/**
 * Follows the job's events until `complete`, calling `onEvent` once per event in order. A
 * dropped or silent connection is resumed with `Last-Event-ID`, after asking the job's state:
 * a job that ended meanwhile is reported as it ended (`GET /build/{id}`), even when its
 * `complete` never reaches this client. After MAX_EVENT_RECONNECTS failures in a row the agent
 * is declared unreachable.
 */
export async function followJob(
  http: AgentHttp,
  sleep: (ms: number, signal: AbortSignal) => Promise<void>,
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
      const res = await http.request(`following job ${jobId}`, `/build/${jobId}/events`, {
        headers: http.headers({
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
    ended = await finished(http, jobId, signal);
    if (ended !== null) continue;
    if (lastId === before) failures++;
    if (failures >= MAX_EVENT_RECONNECTS)
      throw new ActionError(
        'AGENT_UNREACHABLE',
        `following job ${jobId}: the event stream failed ${failures} times in a row (${(lastError as Error)?.message ?? 'unknown'})`,
        { cause: lastError },
      );
    await sleep(Math.min(retryMs, MAX_RECONNECT_MS), signal);
  }
}

/**
 * How the job ended, from `GET /build/{id}`; null while it has not ended, or when the agent
 * gave no usable answer. A refusal (401, 404) is thrown: it will not heal.
 */
async function finished(
  http: AgentHttp,
  jobId: string,
  signal: AbortSignal,
): Promise<JobCompletion | null> {
  const conn = new AbortController();
  const onAbort = (): void => conn.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => conn.abort(new Error('no answer in time')), STATE_TIMEOUT_MS);
  try {
    const res = await http.request(`asking the state of job ${jobId}`, `/build/${jobId}`, {
      headers: http.headers({ Accept: 'application/json' }),
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
