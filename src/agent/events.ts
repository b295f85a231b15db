/**
 * A job's event log: numbered events (`queued`, `started`, `phase`, `log`, `complete`) kept in
 * memory while the job is live, appended to `events.jsonl`, and replayed to late subscribers (the
 * SSE backlog). After `complete` the log is closed; finished jobs are replayed from the file.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fsyncFile } from './fsutil.js';

export const AGENT_EVENT_TYPES = ['queued', 'started', 'phase', 'log', 'complete'] as const;
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];

/** Log text recorded per job; past it, log events are dropped (the bundle's build.log has all). */
export const MAX_LOG_EVENT_BYTES = 16 * 1024 * 1024;
/** Longest text of one log event; a longer one is cut. */
export const MAX_LOG_EVENT_TEXT = 16 * 1024;
/** Longest line read back from an event file (longer lines are not ours and are skipped). */
const MAX_EVENT_LINE = 4 * MAX_LOG_EVENT_TEXT;

export interface AgentEvent {
  /** Position in the job's log, from 1; the SSE `id:` and what `Last-Event-ID` resumes after. */
  id: number;
  event: AgentEventType;
  data: Record<string, unknown>;
}

type Listener = (e: AgentEvent) => void;

/** The live event log of one job. */
export class JobEvents {
  private readonly backlog: AgentEvent[];
  private readonly listeners = new Map<Listener, () => void>();
  private readonly out: WriteStream;
  private lastId: number;
  private logBytes = 0;
  private logTruncated = false;
  private closing: Promise<void> | null = null;
  private writeFailed = false;

  /** Opens the log of a job; `backlog` holds events already in the file (after a restart). */
  constructor(
    private readonly file: string,
    backlog: AgentEvent[] = [],
    private readonly onWriteError: (err: Error) => void = () => undefined,
  ) {
    this.backlog = [...backlog];
    this.lastId = backlog.at(-1)?.id ?? 0;
    this.out = createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.out.on('error', (err) => {
      // The log is a convenience; results and states are what must survive, so keep running.
      if (!this.writeFailed) this.onWriteError(err);
      this.writeFailed = true;
    });
  }

  get finished(): boolean {
    return this.closing !== null;
  }

  get size(): number {
    return this.backlog.length;
  }

  /** Records and delivers an event; log events past the budget are dropped (once noted). */
  emit(event: AgentEventType, data: Record<string, unknown>): AgentEvent | null {
    if (this.closing) return null;
    if (event === 'log') {
      const text = typeof data.text === 'string' ? data.text : '';
      if (this.logTruncated) return null;
      this.logBytes += Buffer.byteLength(text);
      if (this.logBytes > MAX_LOG_EVENT_BYTES) {
        this.logTruncated = true;
        data = {
          stream: 'agent',
          text: 'log truncated: the rest is in the bundle build.log',
          truncated: true,
        };
      } else if (text.length > MAX_LOG_EVENT_TEXT) {
        data = { ...data, text: text.slice(0, MAX_LOG_EVENT_TEXT), cut: true };
      }
    }
    const e: AgentEvent = { id: ++this.lastId, event, data };
    this.backlog.push(e);
    if (!this.writeFailed) this.out.write(JSON.stringify(e) + '\n');
    for (const l of [...this.listeners.keys()]) l(e);
    if (event === 'complete') void this.close();
    return e;
  }

  /**
   * Delivers the events after `afterId` (the backlog) synchronously, then live ones; `onEnd` is
   * called after `complete`. Returns the unsubscribe function.
   */
  subscribe(afterId: number, listener: Listener, onEnd: () => void): () => void {
    for (const e of this.backlog) if (e.id > afterId) listener(e);
    if (this.closing) {
      onEnd();
      return () => undefined;
    }
    const wrapped: Listener = (e) => {
      if (e.id <= afterId) return;
      listener(e);
      if (e.event === 'complete') {
        this.listeners.delete(wrapped);
        onEnd();
      }
    };
    this.listeners.set(wrapped, onEnd);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /** Number of live subscribers. */
  get subscribers(): number {
    return this.listeners.size;
  }

  /** Ends the log: flushes and fsyncs the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.out.end(() => resolve());
    }).then(async () => {
      if (!this.writeFailed) await fsyncFile(this.file).catch(() => undefined);
    });
    return this.closing;
  }
}

/**
 * Reads a job's event file, calling `onEvent` for each event after `afterId` in order. A torn last
 * line (a crash while writing) and lines that are not events are skipped.
 */
export async function readEventFile(
  file: string,
  afterId: number,
  onEvent: (e: AgentEvent) => void | Promise<void>,
): Promise<number> {
  let last = 0;
  let stream;
  try {
    stream = createReadStream(file, { encoding: 'utf8' });
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.length === 0 || line.length > MAX_EVENT_LINE) continue;
      const e = parseEvent(line);
      if (e === null || e.id <= last) continue;
      last = e.id;
      if (e.id > afterId) await onEvent(e);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    stream?.destroy();
  }
  return last;
}

/** Reads all events of a file (for a job that is live again after a restart). */
export async function loadEventFile(file: string): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  await readEventFile(file, 0, (e) => {
    out.push(e);
  });
  return out;
}

function parseEvent(line: string): AgentEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const e = v as Partial<AgentEvent> | null;
  if (
    typeof e !== 'object' ||
    e === null ||
    !Number.isSafeInteger(e.id) ||
    !AGENT_EVENT_TYPES.includes(e.event as AgentEventType) ||
    typeof e.data !== 'object' ||
    e.data === null
  )
    return null;
  return e as AgentEvent;
}
