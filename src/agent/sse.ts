/**
 * Server-Sent Events over one HTTP response (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `id:`, `event:` and one `data:` line (compact JSON never holds a newline), keep-alive comments
 * while idle, and a bound on what a slow reader may leave buffered.
 */
import type { ServerResponse } from 'node:http';
import type { AgentEvent } from './events.js';

/** A reader that lets this much pile up is dropped; it can resume with `Last-Event-ID`. */
export const MAX_SSE_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Reconnection delay suggested to clients (the `retry:` field), ms. */
export const SSE_RETRY_MS = 2000;

/** One open event stream. */
export class SseStream {
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    private readonly res: ServerResponse,
    keepAliveMs: number,
  ) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // Reverse proxies (nginx) must not buffer the stream.
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: ${SSE_RETRY_MS}\n\n`);
    res.on('close', () => this.finish());
    this.timer = setInterval(() => this.write(': keep-alive\n\n'), keepAliveMs);
    this.timer.unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one event. */
  send(e: AgentEvent): void {
    this.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  }

  /** Sends one event and waits until the socket takes more (replaying a long file). */
  async sendPaced(e: AgentEvent): Promise<void> {
    this.send(e);
    if (this.closed || !this.res.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        forget();
        resolve();
      };
      this.res.on('drain', done);
      // Dropped once drained: a long replay must not pile up one close handler per wait.
      const forget = this.onClose(done);
    });
  }

  /** Ends the stream (after `complete`). */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.finish();
  }

  /**
   * Called once when the stream ends, whoever ended it. Returns a function that takes `fn` back
   * (no-op once it has run).
   */
  onClose(fn: () => void): () => void {
    if (this.closed) {
      fn();
      return () => undefined;
    }
    this.closeHandlers.push(fn);
    return () => {
      const i = this.closeHandlers.indexOf(fn);
      if (i >= 0) this.closeHandlers.splice(i, 1);
    };
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.res.writableLength > MAX_SSE_BUFFERED_BYTES) {
      this.res.destroy();
      this.finish();
      return;
    }
    this.res.write(chunk);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const fn of this.closeHandlers.splice(0)) fn();
  }
}
