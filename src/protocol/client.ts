/**
 * The client's side of the protocol: over one byte stream to a worker (TCP to the local backend,
 * the vsock bridge on Nitro), negotiate, send the inputs with backpressure, relay progress, and
 * receive the bundle into a file. Transport-agnostic: it only needs a connected `Duplex`.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { toHex } from '../util/hex.js';
import { Channel } from './channel.js';
import { ProtocolError, WorkerError, isProtocolErrorCode, isWorkerErrorCode } from './errors.js';
import type {
  BuildRequest,
  ErrorMessage,
  InputName,
  Phase,
  ProtocolLimits,
  WorkerHello,
  WorkerMessage,
} from './messages.js';
import {
  INPUT_NAMES,
  PROTOCOL_NAME,
  SIGNING_VERSION,
  SUPPORTED_VERSIONS,
  parseWorkerMessage,
} from './messages.js';

/** Bounds the client applies to what it receives. */
export interface ClientLimits {
  /** Largest JSON message accepted from the worker. */
  maxMessageBytes: number;
  /** Largest binary frame accepted. */
  maxFrameBytes: number;
  /** Largest bundle accepted. */
  maxBundleBytes: number;
  /** The connection fails after this long without a frame from the worker (it pings). */
  idleTimeoutMs: number;
  /** The whole exchange, including the build. */
  totalTimeoutMs: number;
  /** The WebSocket handshake. */
  connectTimeoutMs: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  maxMessageBytes: 2 * 1024 * 1024,
  maxFrameBytes: 16 * 1024 * 1024,
  maxBundleBytes: 8 * 1024 ** 3,
  idleTimeoutMs: 60_000,
  totalTimeoutMs: 6 * 60 * 60 * 1000,
  connectTimeoutMs: 30_000,
};

/** Frames the client sends input bytes in. */
export const CLIENT_FRAME_BYTES = 1024 * 1024;

/** One input to send: its size, known before sending, and its bytes. */
export interface ClientInput {
  size: number;
  open(): AsyncIterable<Uint8Array>;
}

/** What to build, with the inputs to send. */
export interface BuildSubmission {
  nonce: Uint8Array;
  workdir: string;
  source: BuildRequest['source'];
  inputs: Record<InputName, ClientInput>;
  /** The sealed builder key the host will unseal for the worker (see `SubmitOptions.unseal`). */
  signing?: { keyFingerprint: string };
  /** The tag, OpenPGP keys and OIDC token of the build, when there are any. */
  origin?: NonNullable<BuildRequest['origin']>;
}

/** Progress of a session, in order. */
export type SessionEvent =
  | {
      type: 'connected';
      version: number;
      worker: string;
      image: WorkerHello['image'];
      limits: ProtocolLimits;
    }
  | { type: 'inputs-sent'; bytes: number }
  | { type: 'phase'; phase: Phase; detail?: string }
  | { type: 'log'; lines: string[] }
  | { type: 'result'; bundleSize: number; subjects: { name: string; sha256: string }[] };

export interface SubmitOptions {
  /** Where the bundle is written (created or truncated). */
  bundleFile: string;
  onEvent?: (e: SessionEvent) => void;
  limits?: Partial<ClientLimits>;
  /** Cancels the build: the worker is told, and the call rejects with `PROTOCOL_CANCELLED`. */
  signal?: AbortSignal;
  /** Versions offered (default all this code speaks). */
  versions?: readonly number[];
  /** `tee-compile/<version>`. */
  client?: string;
  /**
   * Answers the worker's `unseal` (an attestation document carrying its RSA key) with KMS's
   * CiphertextForRecipient. Required with `BuildSubmission.signing`; a rejection ends the session
   * (the worker is told) and is what `submitBuild` rejects with.
   */
  unseal?: (attestation: Uint8Array) => Promise<Uint8Array>;
}

/** A finished session. */
export interface SessionResult {
  version: number;
  hello: WorkerHello;
  subjects: { name: string; sha256: string }[];
  bundle: { file: string; size: number; sha256: string };
}

function opened(ws: WebSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      done(
        new ProtocolError(
          'PROTOCOL_TIMEOUT',
          `the worker did not accept the connection within ${timeoutMs / 1000} s`,
        ),
      );
      ws.terminate();
    }, timeoutMs);
    const done = (err?: ProtocolError): void => {
      clearTimeout(timer);
      ws.off('open', onOpen);
      ws.off('error', onError);
      ws.off('unexpected-response', onResponse);
      // Closing a socket that never opened emits 'error'; it is already reported.
      if (err) ws.on('error', () => undefined);
      if (err) reject(err);
      else resolve();
    };
    const onOpen = (): void => {
      // Paused until the Channel listens (see Channel's constructor).
      ws.pause();
      done();
    };
    const onError = (e: Error): void =>
      done(
        new ProtocolError(
          'PROTOCOL_CONNECTION_LOST',
          `could not connect to the worker: ${e.message}`,
          { cause: e },
        ),
      );
    const onResponse = (_req: unknown, res: { statusCode?: number }): void => {
      done(
        res.statusCode === 409
          ? new ProtocolError(
              'PROTOCOL_BUSY',
              'the worker is single-use and already serves a build',
            )
          : new ProtocolError(
              'PROTOCOL_MALFORMED',
              `the worker answered HTTP ${res.statusCode ?? '?'} instead of a WebSocket`,
            ),
      );
      ws.terminate();
    };
    ws.on('open', onOpen);
    ws.on('error', onError);
    ws.on('unexpected-response', onResponse);
  });
}

/** Rebuilds the worker's refusal as our error (the code comes from a closed list). */
export function remoteError(msg: ErrorMessage): WorkerError | ProtocolError {
  const opts = msg.path === undefined ? undefined : { path: msg.path };
  if (isWorkerErrorCode(msg.code)) {
    const e = new WorkerError(msg.code, msg.message, opts);
    if (msg.exitCode !== undefined) e.exitCode = msg.exitCode;
    if (msg.signal !== undefined) e.signal = msg.signal;
    if (msg.logTail !== undefined) e.logTail = msg.logTail;
    return e;
  }
  if (isProtocolErrorCode(msg.code))
    return new ProtocolError(msg.code, `the worker refused: ${msg.message}`, opts);
  return new ProtocolError(
    'PROTOCOL_MALFORMED',
    `the worker sent an unknown error code '${msg.code}': ${msg.message}`,
  );
}

async function nextMessage(ch: Channel): Promise<WorkerMessage> {
  const item = await ch.next();
  if (item.kind !== 'text')
    throw new ProtocolError('PROTOCOL_MALFORMED', 'the worker sent binary data out of turn');
  const msg = parseWorkerMessage(item.text);
  if (msg.type === 'error') throw remoteError(msg);
  return msg;
}

/**
 * Runs one build over `stream` (already connected to a worker). Resolves with the bundle written
 * to `opts.bundleFile`; rejects with a `WorkerError` (the worker refused the build) or a
 * `ProtocolError` (version, limits, timeouts, dropped connection, cancel).
 */
export async function submitBuild(
  stream: Duplex,
  build: BuildSubmission,
  opts: SubmitOptions,
): Promise<SessionResult> {
  const limits = { ...DEFAULT_CLIENT_LIMITS, ...opts.limits };
  const versions = opts.versions ?? SUPPORTED_VERSIONS;
  const ws = new WebSocket('ws://tee-compile-worker/', {
    // The transport is already connected: the WebSocket runs over it as given.
    createConnection: () => stream as Socket,
    perMessageDeflate: false,
    maxPayload: Math.max(limits.maxFrameBytes, limits.maxMessageBytes),
    // A zero mask: ws then neither masks a frame here nor unmasks it in the worker (a copy and a
    // pass over every byte of the inputs, on each side). Masking guards shared HTTP
    // intermediaries against forged requests (RFC 6455 §10.3); this connection has none, and a
    // peer that reads the bytes reads them with or without it.
    generateMask: (mask: Buffer) => mask.fill(0),
  });
  await opened(ws, limits.connectTimeoutMs);
  const ch = new Channel(ws, {
    peer: 'worker',
    maxMessageBytes: limits.maxMessageBytes,
    idleTimeoutMs: limits.idleTimeoutMs,
    totalTimeoutMs: limits.totalTimeoutMs,
  });
  const onAbort = (): void => {
    // Tell the worker first (best effort), then fail locally.
    if (ws.readyState === ws.OPEN)
      ws.send(JSON.stringify({ type: 'cancel', reason: 'cancelled by the client' }));
    ch.fail(new ProtocolError('PROTOCOL_CANCELLED', 'the build was cancelled'));
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await ch.sendJson({
      type: 'hello',
      protocol: PROTOCOL_NAME,
      versions,
      client: opts.client ?? 'tee-compile',
    });
    const hello = await nextMessage(ch);
    if (hello.type !== 'hello')
      throw new ProtocolError(
        'PROTOCOL_MALFORMED',
        `the worker sent '${hello.type}' before its hello`,
      );
    if (!versions.includes(hello.version))
      throw new ProtocolError(
        'PROTOCOL_VERSION',
        `the worker chose version ${hello.version}, which was not offered`,
      );
    opts.onEvent?.({
      type: 'connected',
      version: hello.version,
      worker: hello.worker,
      image: hello.image,
      limits: hello.limits,
    });
    if (build.signing !== undefined && hello.version < SIGNING_VERSION)
      throw new ProtocolError(
        'PROTOCOL_VERSION',
        `the worker speaks protocol version ${hello.version}, which cannot unseal a builder key (version ${SIGNING_VERSION} or later): use a worker image of this release, or build without the sealed key`,
        { path: 'signing' },
      );
    checkSizes(build, hello.limits);
    const request: BuildRequest = {
      type: 'build',
      nonce: toHex(build.nonce),
      workdir: build.workdir,
      source: build.source,
      inputs: {
        config: build.inputs.config.size,
        commit: build.inputs.commit.size,
        source: build.inputs.source.size,
        deps: build.inputs.deps.size,
      },
      ...(build.signing !== undefined ? { signing: build.signing } : {}),
      ...(build.origin !== undefined ? { origin: build.origin } : {}),
    };
    await ch.sendJson(request);
    let sendError: Error | undefined;
    const frame = Math.min(CLIENT_FRAME_BYTES, hello.limits.maxFrameBytes);
    const sending = (async () => {
      let total = 0;
      for (const name of INPUT_NAMES) {
        const input = build.inputs[name];
        await ch.sendStream(input.open(), input.size, frame, `input '${name}'`);
        total += input.size;
      }
      opts.onEvent?.({ type: 'inputs-sent', bytes: total });
    })().catch((e: unknown) => {
      sendError = e instanceof Error ? e : new Error(String(e));
      // A local failure to read an input ends the exchange; the worker is told.
      if (!(e instanceof ProtocolError))
        ch.fail(
          new ProtocolError(
            'PROTOCOL_CANCELLED',
            `could not send the inputs: ${(e as Error).message}`,
          ),
        );
    });
    let result: SessionResult;
    try {
      result = await receive(ch, hello, limits, opts);
    } catch (err) {
      await sending;
      if (sendError !== undefined && !(sendError instanceof ProtocolError)) throw sendError;
      throw err;
    }
    await sending;
    return result;
  } catch (err) {
    // Tell the worker why we stop when it does not know yet; a refusal it sent needs no answer.
    // A channel that already failed (our cancel, a drop) is closing: its queued frames, such as
    // the cancel, must still go out, so it is not cut off here.
    if (!ch.error) {
      if (err instanceof ProtocolError) ch.fail(err);
      else ch.terminate();
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function checkSizes(build: BuildSubmission, limits: ProtocolLimits): void {
  for (const name of INPUT_NAMES) {
    const size = build.inputs[name].size;
    const max = limits.maxInputBytes[name];
    if (size > max)
      throw new ProtocolError(
        'PROTOCOL_LIMIT',
        `input '${name}' is ${size} bytes; the worker accepts at most ${max}`,
        {
          path: `inputs.${name}`,
        },
      );
  }
}

async function receive(
  ch: Channel,
  hello: WorkerHello,
  limits: ClientLimits,
  opts: SubmitOptions,
): Promise<SessionResult> {
  for (;;) {
    const msg = await nextMessage(ch);
    switch (msg.type) {
      case 'phase':
        opts.onEvent?.(
          msg.detail === undefined
            ? { type: 'phase', phase: msg.phase }
            : { type: 'phase', phase: msg.phase, detail: msg.detail },
        );
        break;
      case 'log':
        opts.onEvent?.({ type: 'log', lines: msg.lines });
        break;
      case 'hello':
        throw new ProtocolError('PROTOCOL_MALFORMED', 'the worker sent a second hello');
      case 'unseal': {
        if (hello.version < SIGNING_VERSION)
          throw new ProtocolError(
            'PROTOCOL_MALFORMED',
            `the worker sent 'unseal', which protocol version ${hello.version} does not have`,
          );
        if (opts.unseal === undefined)
          throw new ProtocolError(
            'PROTOCOL_MALFORMED',
            'the worker asked to unseal a builder key, but none was announced',
          );
        let answer: Uint8Array;
        try {
          answer = await opts.unseal(new Uint8Array(Buffer.from(msg.attestation, 'base64')));
        } catch (e) {
          // The worker learns why it stops; the caller gets the unsealing's own error.
          ch.fail(
            new ProtocolError(
              'PROTOCOL_CANCELLED',
              `the builder key was not unsealed: ${(e as Error)?.message ?? String(e)}`,
            ),
          );
          throw e;
        }
        await ch.sendJson({
          type: 'unsealed',
          ciphertextForRecipient: Buffer.from(answer).toString('base64'),
        });
        break;
      }
      case 'result': {
        if (msg.bundle.size > limits.maxBundleBytes)
          throw new ProtocolError(
            'PROTOCOL_LIMIT',
            `the bundle is ${msg.bundle.size} bytes; at most ${limits.maxBundleBytes} are accepted`,
          );
        opts.onEvent?.({ type: 'result', bundleSize: msg.bundle.size, subjects: msg.subjects });
        const sha256 = await receiveFile(ch, msg.bundle.size, opts.bundleFile);
        await ch.end();
        return {
          version: hello.version,
          hello,
          subjects: msg.subjects,
          bundle: { file: opts.bundleFile, size: msg.bundle.size, sha256 },
        };
      }
    }
  }
}

/** Bytes of the bundle buffered for the disk before the socket is paused. */
const FILE_WRITE_HIGH_WATER = 8 * 1024 * 1024;

async function receiveFile(ch: Channel, size: number, file: string): Promise<string> {
  const hash = createHash('sha256');
  // A write stream keeps several writes in flight; awaiting each write in turn halves throughput.
  const out = createWriteStream(file, { mode: 0o644, highWaterMark: FILE_WRITE_HIGH_WATER });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  try {
    await ch.receiveBytes(
      size,
      async (chunk) => {
        hash.update(chunk);
        if (!out.write(chunk))
          await Promise.race([new Promise<void>((r) => out.once('drain', () => r())), failed]);
      },
      'the bundle',
    );
    await Promise.race([new Promise<void>((r) => out.end(() => r())), failed]);
  } finally {
    out.destroy();
  }
  return hash.digest('hex');
}
