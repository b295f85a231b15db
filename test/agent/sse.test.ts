/**
 * SseStream's close handlers: one taken back is not run, and waiting for `drain` while replaying
 * a long event file leaves none behind.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { SseStream } from '../../src/agent/sse.js';

/** A response whose socket always needs to drain after a write. */
class SlowResponse extends EventEmitter {
  written: string[] = [];
  writableNeedDrain = true;
  writableLength = 0;
  writeHead(): this {
    return this;
  }
  write(chunk: string): boolean {
    this.written.push(chunk);
    setImmediate(() => this.emit('drain'));
    return false;
  }
  end(): void {
    this.emit('close');
  }
  destroy(): void {
    this.emit('close');
  }
}

const pendingHandlers = (s: SseStream): number =>
  (s as unknown as { closeHandlers: unknown[] }).closeHandlers.length;

describe('SseStream', () => {
  it('when a close handler is taken back, it is not run at close; one not taken back is', () => {
    const res = new SlowResponse();
    const s = new SseStream(res as unknown as ServerResponse, 60_000);
    const kept = jest.fn();
    const dropped = jest.fn();
    s.onClose(kept);
    const forget = s.onClose(dropped);
    forget();
    res.emit('close');
    expect(kept).toHaveBeenCalledTimes(1);
    expect(dropped).not.toHaveBeenCalled();
  });

  it('when 200 events are replayed each waiting for drain, no close handler is left behind and all were written', async () => {
    const res = new SlowResponse();
    const s = new SseStream(res as unknown as ServerResponse, 60_000);
    for (let id = 1; id <= 200; id++)
      await s.sendPaced({ id, event: 'log', data: { line: `l${id}` } } as never);
    expect(pendingHandlers(s)).toBe(0);
    expect(res.written.filter((w) => w.startsWith('id: ')).length).toBe(200);
    s.end();
    expect(s.isClosed).toBe(true);
  });
});
