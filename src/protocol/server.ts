/**
 * The worker's side of the protocol: one session per connection, one build per session. It
 * negotiates the version, announces its limits, receives the inputs in order (as streams, so the
 * worker can unpack while bytes arrive), reports phases and log lines, and sends the bundle or an
 * error. What the inputs mean is the build handler's business (src/worker/).
 */
import type { WebSocket } from 'ws';
import { createReadStream } from 'node:fs';
import type { ImageRef } from '../contracts/index.js';
import { Channel } from './channel.js';
import {
  ProtocolError,
  WorkerError,
  isProtocolError,
  isProtocolErrorCode,
  isWorkerError,
  type ProtocolErrorCode,
  type WorkerErrorCode,
} from './errors.js';
import type {
  BuildRequest,
  ErrorMessage,
  InputName,
  Phase,
  ProtocolLimits,
  UnsealedMessage,
} from './messages.js';
import {
  INPUT_NAMES,
  PROTOCOL_NAME,
  SIGNING_VERSION,
  SUPPORTED_VERSIONS,
  chooseVersion,
  parseClientMessage,
} from './messages.js';

/** Limits a worker applies unless told otherwise (see docs/build.md, "Limits"). */
export const DEFAULT_WORKER_LIMITS: ProtocolLimits = {
  maxMessageBytes: 1024 * 1024,
  maxFrameBytes: 4 * 1024 * 1024,
  maxInputBytes: {
    config: 1024 * 1024,
    commit: 1024 * 1024,
    source: 4 * 1024 ** 3,
    deps: 8 * 1024 ** 3,
  },
  idleTimeoutMs: 60_000,
  totalTimeoutMs: 6 * 60 * 60 * 1000,
};

/** Largest log batch sent at once, and the longest line sent (build.log keeps every byte). */
export const MAX_LOG_BATCH_BYTES = 256 * 1024;
export const MAX_LOG_LINE_CHARS = 16 * 1024;
/** How long log lines wait to be batched. */
export const LOG_FLUSH_MS = 100;

/** A build request whose inputs are being received. */
export interface ReceivedBuild {
  /** Negotiated protocol version. */
  version: number;
  /** The request as the client sent it: untrusted claims that the worker checks. */
  request: BuildRequest;
  /** Reads a small input (`config`, `commit`) fully. Inputs must be read in `INPUT_NAMES` order. */
  readAll(name: InputName): Promise<Buffer>;
  /** Streams an input's bytes; the socket pauses while the consumer is behind. Read each once, in order. */
  stream(name: InputName): AsyncIterable<Buffer>;
  /** Aborted when the client cancels or the connection drops after the inputs were received. */
  signal: AbortSignal;
  /**
   * Sends an attestation document carrying the worker's RSA key (`unseal`) and resolves with the
   * host's answer, KMS's CiphertextForRecipient (`unsealed`). Only for a request with `signing`,
   * after the inputs were read.
   */
  unseal(attestation: Uint8Array): Promise<Uint8Array>;
}

/** How the build handler reports progress. */
export interface BuildReporter {
  phase(phase: Phase, detail?: string): void;
  /** One line of build log (without its newline); sent in batches. */
  log(line: string): void;
}

/** What a build handler returns. */
export type BuildOutcome =
  | {
      ok: true;
      bundleFile: string;
      bundleSize: number;
      subjects: { name: string; sha256: string }[];
    }
  | { ok: false; error: WorkerError | ProtocolError };

export type BuildHandler = (build: ReceivedBuild, report: BuildReporter) => Promise<BuildOutcome>;

export interface ServeOptions {
  /** `tee-compile-worker/<version>`. */
  worker: string;
  image: ImageRef;
  limits?: ProtocolLimits;
  /** Versions this worker speaks (tests narrow it); default all supported. */
  versions?: readonly number[];
}

/** How a session ended, for the worker's exit status and its log. */
export type SessionOutcome =
  | { ok: true; subjects: number }
  | {
      ok: false;
      code: WorkerErrorCode | ProtocolErrorCode;
      message: string;
      sentToClient: boolean;
    };

/**
 * Serves one build over `ws` and resolves when the session is over (the socket closed). Never
 * rejects on the peer's behalf: refusals are sent to the client and returned as the outcome.
 */
export async function serveBuild(
  ws: WebSocket,
  opts: ServeOptions,
  handler: BuildHandler,
): Promise<SessionOutcome> {
  const limits = opts.limits ?? DEFAULT_WORKER_LIMITS;
  const ch = new Channel(ws, {
    peer: 'client',
    maxMessageBytes: limits.maxMessageBytes,
    idleTimeoutMs: limits.idleTimeoutMs,
    totalTimeoutMs: limits.totalTimeoutMs,
  });
  const abort = new AbortController();
  let reporter: Reporter | undefined;
  try {
    const version = await handshake(ch, opts, limits);
    const request = await expectBuild(ch, limits);
    if (request.signing !== undefined && version < SIGNING_VERSION)
      throw new ProtocolError(
        'PROTOCOL_VERSION',
        `the build request announces a builder key, which needs protocol version ${SIGNING_VERSION}; this session speaks ${version}`,
        { path: 'signing' },
      );
    const mailbox = new Mailbox();
    const inputs = new InputReader(ch, request, () => startWatch(ch, abort, mailbox));
    reporter = new Reporter(ch, limits);
    reporter.phase('receiving');
    const unseal = async (attestation: Uint8Array): Promise<Uint8Array> => {
      if (request.signing === undefined)
        throw new WorkerError('WORKER_INTERNAL', 'the client announced no builder key to unseal');
      const answer = mailbox.wait();
      await ch.sendJson({
        type: 'unseal',
        attestation: Buffer.from(attestation).toString('base64'),
      });
      const m = await answer;
      return new Uint8Array(Buffer.from(m.ciphertextForRecipient, 'base64'));
    };
    const outcome = await handler(
      { version, request, ...inputs.api(), signal: abort.signal, unseal },
      reporter,
    );
    await reporter.flush();
    if (!outcome.ok) throw outcome.error;
    reporter.phase('sending');
    await reporter.flush();
    await ch.sendJson({
      type: 'result',
      bundle: { size: outcome.bundleSize },
      subjects: outcome.subjects,
    });
    await ch.sendStream(
      createReadStream(outcome.bundleFile, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>,
      outcome.bundleSize,
      limits.maxFrameBytes,
      'the bundle',
    );
    await ch.end();
    return { ok: true, subjects: outcome.subjects.length };
  } catch (err) {
    reporter?.stop();
    return refuse(ch, err);
  }
}

async function refuse(ch: Channel, err: unknown): Promise<SessionOutcome> {
  // The channel's own failure (dropped connection, timeout) wins: the peer never saw our error.
  // A cancel is the client's own word, whatever the connection did after it.
  const lost = ch.error;
  const cancelled = isProtocolError(err) && err.code === 'PROTOCOL_CANCELLED';
  if (lost && !cancelled && lost.code !== 'PROTOCOL_LIMIT' && lost.code !== 'PROTOCOL_MALFORMED') {
    ch.terminate();
    return { ok: false, code: lost.code, message: lost.message, sentToClient: false };
  }
  const e =
    isWorkerError(err) || isProtocolError(err)
      ? err
      : new WorkerError(
          'WORKER_INTERNAL',
          `internal error in the worker: ${(err as Error)?.message ?? String(err)}`,
          {
            cause: err,
          },
        );
  let sent = false;
  if (isProtocolError(e)) {
    ch.fail(e);
    sent = true;
  } else {
    try {
      await ch.sendJson(errorMessageOf(e));
      sent = true;
    } catch {
      // the connection is gone; nothing more to tell
    }
    await Promise.race([ch.end(), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
  await Promise.race([ch.closed, new Promise((r) => setTimeout(r, 2000).unref())]);
  ch.terminate();
  return { ok: false, code: e.code, message: e.message, sentToClient: sent };
}

/** The `error` message for a worker refusal. */
export function errorMessageOf(e: WorkerError | ProtocolError): Record<string, unknown> {
  const m: Record<string, unknown> = {
    type: 'error',
    code: e.code,
    message: e.message.slice(0, 8192),
  };
  if (e.path !== undefined) m.path = e.path.slice(0, 1024);
  if (e instanceof WorkerError) {
    if (e.exitCode !== undefined) m.exitCode = e.exitCode;
    if (e.signal !== undefined) m.signal = e.signal;
    if (e.logTail !== undefined)
      m.logTail = e.logTail.slice(-1000).map((l) => l.slice(0, MAX_LOG_LINE_CHARS));
  }
  return m;
}

/** The client ended the exchange with an `error` message. */
function clientGaveUp(msg: ErrorMessage): ProtocolError {
  const code = isProtocolErrorCode(msg.code) ? msg.code : 'PROTOCOL_CANCELLED';
  return new ProtocolError(code, `the client gave up: ${msg.message}`);
}

async function expectText(ch: Channel, what: string): Promise<string> {
  const item = await ch.next();
  if (item.kind !== 'text')
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      `the client sent binary data where ${what} was expected`,
    );
  return item.text;
}

async function handshake(ch: Channel, opts: ServeOptions, limits: ProtocolLimits): Promise<number> {
  const hello = parseClientMessage(await expectText(ch, 'its hello'));
  if (hello.type === 'error') throw clientGaveUp(hello);
  if (hello.type !== 'hello')
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      `the client sent '${hello.type}' before its hello`,
    );
  const supported = opts.versions ?? SUPPORTED_VERSIONS;
  const version = chooseVersion(hello.versions, supported);
  if (version === null)
    throw new ProtocolError(
      'PROTOCOL_VERSION',
      `unsupported protocol version: the client speaks ${hello.versions.join(', ')}, this worker speaks ${supported.join(', ')}`,
    );
  await ch.sendJson({
    type: 'hello',
    protocol: PROTOCOL_NAME,
    version,
    worker: opts.worker,
    image: { name: opts.image.name, version: opts.image.version, language: opts.image.language },
    limits,
  });
  return version;
}

async function expectBuild(ch: Channel, limits: ProtocolLimits): Promise<BuildRequest> {
  const msg = parseClientMessage(await expectText(ch, 'the build request'));
  if (msg.type === 'cancel')
    throw new ProtocolError('PROTOCOL_CANCELLED', `the client cancelled: ${msg.reason}`);
  if (msg.type === 'error') throw clientGaveUp(msg);
  if (msg.type !== 'build')
    throw new ProtocolError(
      'PROTOCOL_MALFORMED',
      `the client sent '${msg.type}' where the build request was expected`,
    );
  for (const name of INPUT_NAMES) {
    const max = limits.maxInputBytes[name];
    if (msg.inputs[name] > max)
      throw new ProtocolError(
        'PROTOCOL_LIMIT',
        `input '${name}' is ${msg.inputs[name]} bytes; this worker accepts at most ${max}`,
        { path: `inputs.${name}` },
      );
  }
  return msg;
}

/** Hands out the inputs' bytes in order, each exactly once. */
class InputReader {
  private nextIndex = 0;

  constructor(
    private readonly ch: Channel,
    private readonly request: BuildRequest,
    private readonly onAllRead: () => void,
  ) {}

  private take(name: InputName): number {
    const expected = INPUT_NAMES[this.nextIndex];
    if (expected !== name)
      throw new Error(`input '${name}' read out of order (next is '${expected ?? 'none'}')`);
    this.nextIndex++;
    return this.request.inputs[name];
  }

  private done(): void {
    if (this.nextIndex === INPUT_NAMES.length) this.onAllRead();
  }

  private async *chunks(name: InputName): AsyncGenerator<Buffer> {
    const size = this.take(name);
    let got = 0;
    while (got < size) {
      const item = await this.ch.next();
      if (item.kind === 'text') throw interruption(item.text, name);
      if (got + item.data.length > size)
        throw new ProtocolError(
          'PROTOCOL_MALFORMED',
          `the client sent more bytes for input '${name}' than announced (${size})`,
        );
      got += item.data.length;
      yield item.data;
    }
    this.done();
  }

  api(): Pick<ReceivedBuild, 'readAll' | 'stream'> {
    return {
      readAll: async (name) => {
        const parts: Buffer[] = [];
        for await (const c of this.chunks(name)) parts.push(c);
        return Buffer.concat(parts);
      },
      stream: (name) => this.chunks(name),
    };
  }
}

/** A text message where input bytes were expected: a cancel, the client's error, or a violation. */
function interruption(text: string, name: InputName): ProtocolError {
  let msg: ReturnType<typeof parseClientMessage>;
  try {
    msg = parseClientMessage(text);
  } catch (e) {
    return e as ProtocolError;
  }
  if (msg.type === 'cancel')
    return new ProtocolError('PROTOCOL_CANCELLED', `the client cancelled: ${msg.reason}`);
  if (msg.type === 'error') return clientGaveUp(msg);
  return new ProtocolError(
    'PROTOCOL_MALFORMED',
    `the client sent '${msg.type}' in the middle of input '${name}'`,
  );
}

/** The one `unsealed` answer the worker waits for, delivered by the watch. */
class Mailbox {
  private waiter:
    { resolve: (m: UnsealedMessage) => void; reject: (e: unknown) => void } | undefined;
  private failure: Error | undefined;

  wait(): Promise<UnsealedMessage> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.waiter !== undefined) throw new Error('one unseal at a time');
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** False when nobody waits (the message came out of turn). */
  deliver(m: UnsealedMessage): boolean {
    const w = this.waiter;
    if (w === undefined) return false;
    this.waiter = undefined;
    w.resolve(m);
    return true;
  }

  fail(e: unknown): void {
    this.failure =
      e instanceof Error
        ? e
        : new ProtocolError('PROTOCOL_CONNECTION_LOST', `the connection failed: ${String(e)}`);
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(e);
  }
}

/**
 * After the inputs: watch the connection so that a cancel or a drop stops the build; an
 * `unsealed` answer the worker waits for is handed over.
 */
function startWatch(ch: Channel, abort: AbortController, mailbox: Mailbox): void {
  const stop = (reason: unknown): void => {
    abort.abort(reason);
    mailbox.fail(reason);
  };
  void (async () => {
    try {
      let item = await ch.next();
      for (;;) {
        if (item.kind !== 'text') break;
        const msg = parseClientMessage(item.text);
        if (msg.type === 'unsealed' && mailbox.deliver(msg)) {
          item = await ch.next();
          continue;
        }
        stop(
          msg.type === 'cancel'
            ? new ProtocolError('PROTOCOL_CANCELLED', `the client cancelled: ${msg.reason}`)
            : msg.type === 'error'
              ? clientGaveUp(msg)
              : new ProtocolError(
                  'PROTOCOL_MALFORMED',
                  `the client sent '${msg.type}' during the build`,
                ),
        );
        return;
      }
      stop(new ProtocolError('PROTOCOL_MALFORMED', 'the client sent data after its inputs'));
    } catch (err) {
      stop(err);
    }
  })();
}

/** Sends phases and batched log lines in order. */
class Reporter implements BuildReporter {
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly ch: Channel,
    private readonly limits: ProtocolLimits,
  ) {}

  phase(phase: Phase, detail?: string): void {
    this.flushLines();
    this.enqueue(
      detail === undefined
        ? { type: 'phase', phase }
        : { type: 'phase', phase, detail: detail.slice(0, 1024) },
    );
  }

  log(line: string): void {
    if (this.stopped) return;
    const l =
      line.length > MAX_LOG_LINE_CHARS ? `${line.slice(0, MAX_LOG_LINE_CHARS)} […truncated]` : line;
    this.lines.push(l);
    this.bytes += l.length * 3 + 4;
    const cap = Math.min(MAX_LOG_BATCH_BYTES, this.limits.maxMessageBytes - 64);
    if (this.bytes >= cap) this.flushLines();
    else this.timer ??= setTimeout(() => this.flushLines(), LOG_FLUSH_MS);
  }

  private flushLines(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    this.bytes = 0;
    this.enqueue({ type: 'log', lines });
  }

  private enqueue(msg: object): void {
    if (this.stopped) return;
    // Progress is advisory: a failed send shows up as the channel's error at the next real send.
    this.sending = this.sending.then(() => this.ch.sendJson(msg)).catch(() => undefined);
  }

  async flush(): Promise<void> {
    this.flushLines();
    await this.sending;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
