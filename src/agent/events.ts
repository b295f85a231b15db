/**
 * A job's event log: numbered events (`queued`, `started`, `phase`, `log`, `complete`) kept in
 * memory while the job is live, appended to `events.jsonl`, and replayed to late subscribers (the
 * SSE backlog). After `complete` the log is closed; finished jobs are replayed from the file.
 *
 * Ids are never given twice, even across a crash. Events are appended without an fsync each, so
 * after `kill -9` or a power cut the last ones may be missing from the file although subscribers
 * saw them. So ids are reserved durably, EVENT_ID_BLOCK at a time, in `events.reserved` (written
 * atomically and fsynced): an event is delivered only once its id is reserved, and a log opened
 * again (a restart) goes on after the higher of its last event and its reservation. A log closed
 * in order gives the unused reservation back, so ids go on without a gap after a clean stop.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { AGENT_EVENT_TYPES } from '../contracts/index.js';
import type { AgentEvent, AgentEventType } from '../contracts/index.js';
import { fsyncFile, writeFileAtomic } from './fsutil.js';

export { AGENT_EVENT_TYPES };
export type { AgentEvent, AgentEventType };

/** Log text recorded per job; past it, log events are dropped (the bundle's build.log has all). */
export const MAX_LOG_EVENT_BYTES = 16 * 1024 * 1024;
/** Longest text of one log event; a longer one is cut. */
export const MAX_LOG_EVENT_TEXT = 16 * 1024;
/** Longest line read back from an event file (longer lines are not ours and are skipped). */
const MAX_EVENT_LINE = 4 * MAX_LOG_EVENT_TEXT;

type Listener = (e: AgentEvent) => void;

/** Event ids reserved at a time (see the module comment). */
export const EVENT_ID_BLOCK = 1000;

/** The file of a log's reserved ids, beside its events. */
export function reservationFile(eventsFile: string): string {
  return join(dirname(eventsFile), 'events.reserved');
}

/** The highest id a log may have delivered (its reservation); 0 when it has none. */
export async function readReservation(eventsFile: string): Promise<number> {
  const text = await readFile(reservationFile(eventsFile), 'utf8').catch(() => '');
  const n = /^\d{1,15}\n?$/.test(text) ? Number(text.trim()) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}

/** The live event log of one job. */
export class JobEvents {
  private readonly backlog: AgentEvent[];
  private readonly listeners = new Map<Listener, () => void>();
  private readonly out: WriteStream;
  private readonly reservedFile: string;
  private lastId: number;
  /** Ids up to this one are reserved on disk: events up to it may be delivered. */
  private reserved: number;
  /** Events of the backlog before this index have been delivered. */
  private delivered: number;
  private reserving: Promise<void> | null = null;
  private reservationFailed = false;
  private logBytes = 0;
  private logTruncated = false;
  private completed = false;
  private closing: Promise<void> | null = null;
  private writeFailed = false;

  /**
   * Opens the log of a job; `backlog` holds events already in the file and `reserved` its
   * reservation (after a restart). Call `ready()` before the first event to deliver it at once.
   */
  constructor(
    private readonly file: string,
    backlog: AgentEvent[] = [],
    reserved = 0,
    private readonly onWriteError: (err: Error) => void = () => undefined,
  ) {
    this.backlog = [...backlog];
    this.delivered = this.backlog.length;
    this.lastId = Math.max(backlog.at(-1)?.id ?? 0, reserved);
    this.reserved = this.lastId;
    this.reservedFile = reservationFile(file);
    this.out = createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.out.on('error', (err) => {
      // The log is a convenience; results and states are what must survive, so keep running.
      if (!this.writeFailed) this.onWriteError(err);
      this.writeFailed = true;
    });
  }

  /** Resolves once ids are reserved ahead (the next events are delivered as they come). */
  async ready(): Promise<void> {
    this.reserve();
    await this.reserving;
  }

  get finished(): boolean {
    return this.closing !== null;
  }

  get size(): number {
    return this.backlog.length;
  }

  /**
   * Records an event and delivers it (once its id is reserved); log events past the budget are
   * dropped (once noted).
   */
  emit(event: AgentEventType, data: Record<string, unknown>): AgentEvent | null {
    if (this.closing || this.completed) return null;
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
    if (event === 'complete') this.completed = true;
    this.release();
    if (event === 'complete') void this.close();
    return e;
  }

  /** Delivers the events whose ids are reserved, in order; reserves more ahead of need. */
  private release(): void {
    while (this.delivered < this.backlog.length) {
      const e = this.backlog[this.delivered]!;
      if (e.id > this.reserved) break;
      this.delivered++;
      for (const l of [...this.listeners.keys()]) l(e);
    }
    const waiting = this.delivered < this.backlog.length;
    const ahead = !this.completed && this.closing === null;
    if (waiting || (ahead && this.lastId > this.reserved - EVENT_ID_BLOCK / 2)) this.reserve();
  }

  /** Reserves the ids up to EVENT_ID_BLOCK past the last one (one write at a time). */
  private reserve(): void {
    if (this.reserving !== null || this.reservationFailed) return;
    const target = this.lastId + EVENT_ID_BLOCK;
    this.reserving = writeFileAtomic(this.reservedFile, `${target}\n`)
      .then(
        () => {
          this.reserved = Math.max(this.reserved, target);
        },
        (err: Error) => {
          // Without a reservation ids could repeat after a crash; still, events keep flowing.
          this.reservationFailed = true;
          this.reserved = Number.MAX_SAFE_INTEGER;
          this.onWriteError(err);
        },
      )
      .finally(() => {
        this.reserving = null;
        this.release();
      });
  }

  /**
   * Delivers the events after `afterId` that were delivered already (the backlog) synchronously,
   * then the next ones; `onEnd` is called after `complete`. Returns the unsubscribe function.
   */
  subscribe(afterId: number, listener: Listener, onEnd: () => void): () => void {
    for (let i = 0; i < this.delivered; i++) {
      const e = this.backlog[i]!;
      if (e.id > afterId) listener(e);
    }
    if (this.closing && this.delivered === this.backlog.length) {
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

  /**
   * Ends the log: delivers what waits for its reservation, flushes and fsyncs the file, and gives
   * the unused reservation back. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.delivered < this.backlog.length) {
        this.reserve();
        await this.reserving;
      }
      await this.reserving;
      await new Promise<void>((resolve) => {
        this.out.end(() => resolve());
      });
      if (!this.writeFailed) await fsyncFile(this.file).catch(() => undefined);
      // Every id given is at most lastId, so the next life may go on right after it.
      await writeFileAtomic(this.reservedFile, `${this.lastId}\n`).catch(() => undefined);
    })();
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
