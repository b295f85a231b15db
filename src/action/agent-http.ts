/**
 * Requests to the agent's HTTP API, as the action's agent client and its event follower send
 * them: the token, and errors that say which request failed and what the agent answered
 * (`{"error": {"type", "message", "field"?}}`).
 */
import { fromReadable } from '../util/bytes.js';
import { ActionError } from './errors.js';

/** Largest error body read from the agent. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The error a cancelled request ends with. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof ActionError
    ? signal.reason
    : new ActionError('CANCELLED', 'cancelled', { cause: signal.reason });
}

/** Waits `ms`, or rejects with the abort reason when `signal` aborts first. */
export function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
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

/** At most `limit` bytes of a response's body, as text (the rest is not read). */
export async function readLimited(res: Response, limit: number): Promise<string> {
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

/** The agent at one base URL, with its token. */
export class AgentHttp {
  readonly base: string;

  constructor(
    url: string,
    private readonly token: string | null,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === null ? extra : { ...extra, Authorization: `Bearer ${this.token}` };
  }

  /** Sends a request; an agent out of reach or a refusal is an `ActionError` naming `what`. */
  async request(
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

  /** The error for an answer of HTTP `status` with body `text`. */
  refusalOf(what: string, status: number, text: string): ActionError {
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
}
