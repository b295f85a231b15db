/**
 * One end of the protocol's WebSocket, with what both sides need: JSON and binary sends that
 * respect backpressure, an ordered receive queue that pauses the socket while the consumer is
 * behind (e.g. writing to disk), idle and total timeouts, pings, and a clear error when the
 * connection drops.
 */
import type { RawData, WebSocket } from 'ws';
import type { ProtocolErrorCode } from './errors.js';
import { ProtocolError } from './errors.js';

/** Bytes handed to the socket but not yet written, above which senders wait. */
export const SEND_HIGH_WATER = 8 * 1024 * 1024;
/** Bytes received but not yet consumed, above which the socket is paused. */
export const RECEIVE_HIGH_WATER = 16 * 1024 * 1024;
/** Below this, a paused socket is resumed. */
export const RECEIVE_LOW_WATER = 4 * 1024 * 1024;

/** A frame received, in order. */
export type Incoming = { kind: 'text'; text: string } | { kind: 'binary'; data: Buffer };

export interface ChannelOptions {
  /** Who is at the other end, for messages ("the worker closed the connection"). */
  peer: 'client' | 'worker';
  /** Largest text message accepted. */
  maxMessageBytes: number;
  /** The connection fails after this long without any frame from the peer (pings count). */
  idleTimeoutMs: number;
  /** The connection fails after this long in total. */
  totalTimeoutMs: number;
  /** Interval of pings sent to the peer; default a third of the idle timeout. */
  pingIntervalMs?: number;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Wraps an open WebSocket. The channel owns the socket from then on. */
export class Channel {
  private readonly queue: Incoming[] = [];
  private queuedBytes = 0;
  private waiter: { resolve: (v: Incoming) => void; reject: (e: Error) => void } | undefined;
  private failure: ProtocolError | undefined;
  private ended = false;
  private paused = false;
  private inflight = 0;
  private drainWaiters: (() => void)[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly totalTimer: NodeJS.Timeout;
  private readonly pingTimer: NodeJS.Timeout;
  /** Resolves when the socket has closed, whatever the reason. */
  readonly closed: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    private readonly opts: ChannelOptions,
  ) {
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('ping', () => this.touch());
    ws.on('pong', () => this.touch());
    ws.on('error', (err: Error & { code?: string }) => {
      // ws reports protocol violations (e.g. a frame over maxPayload) here, then closes.
      const limit = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      this.setFailure(
        new ProtocolError(
          limit ? 'PROTOCOL_LIMIT' : 'PROTOCOL_MALFORMED',
          limit
            ? `the ${opts.peer} sent a frame larger than allowed`
            : `WebSocket error from the ${opts.peer}: ${err.message}`,
          { cause: err },
        ),
      );
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
    this.touch();
    this.totalTimer = setTimeout(
      () =>
        this.fail(
          new ProtocolError(
            'PROTOCOL_TIMEOUT',
            `the exchange with the ${opts.peer} took longer than ${Math.round(opts.totalTimeoutMs / 1000)} s`,
          ),
        ),
      opts.totalTimeoutMs,
    );
    this.totalTimer.unref();
    const interval = opts.pingIntervalMs ?? Math.max(50, Math.floor(opts.idleTimeoutMs / 3));
    this.pingTimer = setInterval(() => {
      if (ws.readyState === ws.OPEN) ws.ping();
    }, interval);
    this.pingTimer.unref();
    // Sockets are handed over paused (acceptOne, the client's open) so that no frame is emitted
    // before the listeners above exist; from here on, the receive queue does the pausing.
    if (ws.isPaused) ws.resume();
  }

  /** The error that ended the channel, if any. */
  get error(): ProtocolError | undefined {
    return this.failure;
  }

  private touch(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    // While we hold the socket paused, the slowness is ours, not the peer's.
    if (this.paused || this.ended || this.failure) return;
    this.idleTimer = setTimeout(
      () =>
        this.fail(
          new ProtocolError(
            'PROTOCOL_IDLE_TIMEOUT',
            `nothing received from the ${this.opts.peer} for ${Math.round(this.opts.idleTimeoutMs / 1000)} s`,
          ),
        ),
      this.opts.idleTimeoutMs,
    );
    this.idleTimer.unref();
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.touch();
    if (this.failure || this.ended) return;
    const buf = toBuffer(data);
    if (!isBinary && buf.length > this.opts.maxMessageBytes) {
      this.fail(
        new ProtocolError(
          'PROTOCOL_LIMIT',
          `the ${this.opts.peer} sent a ${buf.length}-byte message; at most ${this.opts.maxMessageBytes} are accepted`,
        ),
      );
      return;
    }
    const item: Incoming = isBinary
      ? { kind: 'binary', data: buf }
      : { kind: 'text', text: buf.toString('utf8') };
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(item);
      return;
    }
    this.queue.push(item);
    this.queuedBytes += buf.length;
    if (!this.paused && this.queuedBytes > RECEIVE_HIGH_WATER) {
      this.paused = true;
      this.ws.pause();
      this.touch();
    }
  }

  private onClose(code: number, reason: string): void {
    clearTimeout(this.totalTimer);
    clearInterval(this.pingTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    for (const w of this.drainWaiters.splice(0)) w();
    if (this.ended) return;
    this.setFailure(
      new ProtocolError(
        'PROTOCOL_CONNECTION_LOST',
        `the ${this.opts.peer} closed the connection before the end (code ${code}${reason ? `: ${reason}` : ''})`,
      ),
    );
  }

  private setFailure(err: ProtocolError): void {
    if (this.failure || this.ended) return;
    this.failure = err;
    if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.reject(err);
    }
  }

  /**
   * The next frame. Frames already received are delivered before a failure is reported, so that
   * an `error` message sent just before a close is read.
   */
  next(): Promise<Incoming> {
    const item = this.queue.shift();
    if (item !== undefined) {
      this.queuedBytes -= item.kind === 'binary' ? item.data.length : Buffer.byteLength(item.text);
      if (this.paused && this.queuedBytes < RECEIVE_LOW_WATER) {
        this.paused = false;
        this.ws.resume();
        this.touch();
      }
      return Promise.resolve(item);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended)
      return Promise.reject(new ProtocolError('PROTOCOL_CONNECTION_LOST', 'the channel is closed'));
    if (this.waiter) throw new Error('Channel.next() called while another call is pending');
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private ensureOpen(): void {
    if (this.failure) throw this.failure;
    if (this.ws.readyState !== this.ws.OPEN)
      throw new ProtocolError(
        'PROTOCOL_CONNECTION_LOST',
        `the connection to the ${this.opts.peer} is closed`,
      );
  }

  private async write(data: string | Uint8Array, binary: boolean): Promise<void> {
    this.ensureOpen();
    const n = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.inflight += n;
    this.ws.send(data, { binary }, (err) => {
      this.inflight -= n;
      if (err) {
        this.setFailure(
          new ProtocolError(
            'PROTOCOL_CONNECTION_LOST',
            `sending to the ${this.opts.peer} failed: ${err.message}`,
            {
              cause: err,
            },
          ),
        );
      }
      if (this.inflight <= SEND_HIGH_WATER) for (const w of this.drainWaiters.splice(0)) w();
    });
    // Backpressure: wait until the socket has taken all but SEND_HIGH_WATER bytes.
    while (
      this.inflight > SEND_HIGH_WATER &&
      this.ws.readyState === this.ws.OPEN &&
      !this.failure
    ) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    this.ensureOpen();
  }

  /** Sends one JSON message. */
  async sendJson(msg: object): Promise<void> {
    const text = JSON.stringify(msg);
    await this.write(text, false);
  }

  /** Sends binary bytes (one frame), waiting while too much is in flight. */
  async sendBinary(chunk: Uint8Array): Promise<void> {
    await this.write(chunk, true);
  }

  /**
   * Sends exactly `size` bytes from `source` as binary frames of at most `frameBytes`; fails if
   * the source yields more or fewer.
   */
  async sendStream(
    source: AsyncIterable<Uint8Array>,
    size: number,
    frameBytes: number,
    what: string,
  ): Promise<void> {
    let sent = 0;
    for await (const chunk of source) {
      for (let off = 0; off < chunk.length; off += frameBytes) {
        const part = chunk.subarray(off, Math.min(chunk.length, off + frameBytes));
        sent += part.length;
        if (sent > size)
          throw new Error(`${what} grew while it was being sent (more than ${size} bytes)`);
        await this.sendBinary(part);
      }
    }
    if (sent !== size)
      throw new Error(`${what} changed while it was being sent (${sent} bytes, expected ${size})`);
  }

  /**
   * Reads exactly `size` bytes of binary frames and hands them to `sink` in order. A text frame
   * in between, or a frame reaching past `size`, is a protocol violation. `sink` is awaited: the
   * socket pauses while it is behind.
   */
  async receiveBytes(
    size: number,
    sink: (chunk: Buffer) => Promise<void> | void,
    what: string,
  ): Promise<void> {
    let got = 0;
    while (got < size) {
      const item = await this.next();
      if (item.kind === 'text') {
        this.unshift(item);
        throw new ProtocolError(
          'PROTOCOL_MALFORMED',
          `the ${this.opts.peer} sent a message in the middle of ${what}`,
        );
      }
      if (got + item.data.length > size)
        throw new ProtocolError(
          'PROTOCOL_MALFORMED',
          `the ${this.opts.peer} sent more bytes for ${what} than announced (${size})`,
        );
      got += item.data.length;
      await sink(item.data);
    }
  }

  /** Puts a frame back at the head of the queue (to report an `error` message read out of turn). */
  unshift(item: Incoming): void {
    this.queue.unshift(item);
    this.queuedBytes += item.kind === 'binary' ? item.data.length : Buffer.byteLength(item.text);
  }

  /** Ends the exchange normally: later closes are not failures. Closes the socket after sends flush. */
  end(): Promise<void> {
    this.ended = true;
    this.clearTimers();
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING)
      this.ws.close(1000, 'done');
    return this.closed;
  }

  /**
   * Fails the channel with `err`: records it, tells the peer (best effort, as an `error` message),
   * and closes. Pending and later `next()` calls reject with it.
   */
  fail(err: ProtocolError): void {
    if (this.ended) return;
    const first = this.failure === undefined;
    this.setFailure(err);
    this.clearTimers();
    if (this.ws.readyState === this.ws.OPEN) {
      if (first) {
        this.ws.send(
          JSON.stringify({ type: 'error', code: err.code, message: err.message }),
          () => undefined,
        );
      }
      this.ws.close(closeCodeFor(err.code), err.code);
      // A peer that does not answer the close within a second is cut off.
      setTimeout(() => this.ws.terminate(), 1000).unref();
    } else if (this.ws.readyState === this.ws.CONNECTING) {
      this.ws.terminate();
    }
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.clearTimers();
    this.ws.terminate();
  }

  private clearTimers(): void {
    clearTimeout(this.totalTimer);
    clearInterval(this.pingTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/** WebSocket close codes (RFC 6455 §7.4.1) used when a channel fails. */
function closeCodeFor(code: ProtocolErrorCode): number {
  switch (code) {
    case 'PROTOCOL_LIMIT':
      return 1009;
    case 'PROTOCOL_MALFORMED':
    case 'PROTOCOL_VERSION':
      return 1002;
    default:
      return 1011;
  }
}
