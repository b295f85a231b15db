import { afterEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { BuildHandler, SessionEvent } from '../../src/protocol/index.js';
import type { AddressInfo } from 'node:net';
import {
  ProtocolError,
  SUPPORTED_VERSIONS,
  WorkerError,
  acceptOne,
  listenOnce,
  serveBuild,
  submitBuild,
} from '../../src/protocol/index.js';
import type { TestWorker } from '../support/processes/build-protocol.js';
import {
  bundleFile,
  bytesInput,
  connectTo,
  generatedInput,
  TEST_IMAGE,
  sha256,
  startTestWorker,
  submission,
} from '../support/processes/build-protocol.js';

let worker: TestWorker | undefined;
afterEach(async () => {
  await worker?.close();
  worker = undefined;
});

/** Reads every input, hashing it, then returns `bundle` as the result. */
function echoHandler(bundle: Uint8Array, seen: Record<string, string>): BuildHandler {
  return async (build, report) => {
    seen.config = sha256(await build.readAll('config'));
    seen.commit = sha256(await build.readAll('commit'));
    for (const name of ['source', 'deps'] as const) {
      const h = createHash('sha256');
      for await (const c of build.stream(name)) h.update(c);
      seen[name] = h.digest('hex');
    }
    seen.nonce = build.request.nonce;
    report.phase('verifying-source');
    report.phase('building');
    for (let i = 0; i < 500; i++) report.log(`line ${i}`);
    report.phase('attesting');
    const file = await bundleFile(worker!.dir, bundle);
    return {
      ok: true,
      bundleFile: file,
      bundleSize: bundle.length,
      subjects: [{ name: 'out/a', sha256: sha256(bundle) }],
    };
  };
}

describe('protocol session', () => {
  it('when a build succeeds, it delivers every input byte-exact, the progress in order, and the bundle', async () => {
    const seen: Record<string, string> = {};
    const bundle = randomBytes(3 * 1024 * 1024 + 17);
    worker = await startTestWorker(echoHandler(bundle, seen));
    const source = generatedInput(20 * 1024 * 1024 + 5, 3);
    const events: SessionEvent[] = [];
    const sub = submission({ source });
    const out = join(worker.dir, 'received.tar.gz');
    const res = await submitBuild(await connectTo(worker.port), sub, {
      bundleFile: out,
      onEvent: (e) => events.push(e),
    });

    expect(seen.source).toBe(source.sha256());
    expect(seen.config).toBe(sha256(Buffer.from('{"language":"rust"}')));
    expect(seen.nonce).toBe('07'.repeat(32));
    expect(res.bundle.sha256).toBe(sha256(bundle));
    expect(sha256(await readFile(out))).toBe(sha256(bundle));
    expect(res.subjects).toEqual([{ name: 'out/a', sha256: sha256(bundle) }]);
    const phases = events.flatMap((e) => (e.type === 'phase' ? [e.phase] : []));
    expect(phases).toEqual(['receiving', 'verifying-source', 'building', 'attesting', 'sending']);
    const lines = events.flatMap((e) => (e.type === 'log' ? e.lines : []));
    expect(lines).toEqual(Array.from({ length: 500 }, (_, i) => `line ${i}`));
    // Batched: far fewer messages than lines.
    expect(events.filter((e) => e.type === 'log').length).toBeLessThan(50);
    await expect(worker.outcome).resolves.toEqual({ ok: true, subjects: 1 });
  });

  it('the inputs cross the connection as they are (a zero mask key): their bytes appear unchanged on the wire', async () => {
    // A zero key leaves ws nothing to mask or unmask: no pass over every input byte on either
    // side. A random key would hide the pattern below (a 64-byte run appears by chance with
    // odds of 2^-512).
    const seen: Record<string, string> = {};
    worker = await startTestWorker(echoHandler(Buffer.from('bundle'), seen));
    const pattern = Buffer.from('tee-compile unmasked input '.repeat(3).slice(0, 64));
    const source = Buffer.concat(Array.from({ length: 4096 }, () => pattern));
    const socket = await connectTo(worker.port);
    const sent: Buffer[] = [];
    const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
    socket.write = (chunk: unknown, ...rest: unknown[]) => {
      if (Buffer.isBuffer(chunk)) sent.push(Buffer.from(chunk));
      return write(chunk, ...rest);
    };
    await submitBuild(socket, submission({ source: bytesInput(source) }), {
      bundleFile: join(worker.dir, 'received.tar.gz'),
    });
    expect(seen.source).toBe(sha256(source));
    const wire = Buffer.concat(sent);
    // The inputs (the source, build.json) are on the wire as they are, save for the frame
    // headers between them.
    expect(wire.includes(pattern)).toBe(true);
    expect(wire.includes(Buffer.from('{"language":"rust"}'))).toBe(true);
  });

  it('when the worker consumes slowly, the client waits (bounded bytes ahead) and the worker pauses its socket', async () => {
    let consumed = 0;
    let sent = 0;
    let maxAhead = 0;
    let pausedSeen = false;
    worker = await startTestWorker(async (build) => {
      const ws = await worker!.socket;
      await build.readAll('config');
      await build.readAll('commit');
      for await (const c of build.stream('source')) {
        consumed += c.length;
        pausedSeen ||= ws.isPaused;
        await new Promise((r) => setTimeout(r, 2));
      }
      for await (const _ of build.stream('deps'));
      return { ok: false, error: new WorkerError('BUILD_FAILED', 'done reading') };
    });
    const source = generatedInput(192 * 1024 * 1024);
    const counting = {
      size: source.size,
      open: async function* () {
        for await (const c of source.open()) {
          sent += c.length;
          maxAhead = Math.max(maxAhead, sent - consumed);
          yield c;
        }
      },
    };
    await expect(
      submitBuild(await connectTo(worker.port), submission({ source: counting }), {
        bundleFile: join(worker.dir, 'b'),
      }),
    ).rejects.toHaveCode('BUILD_FAILED');
    expect(consumed).toBe(source.size);
    expect(pausedSeen).toBe(true);
    // Without backpressure the sender would run the whole input ahead of the consumer.
    expect(maxAhead).toBeLessThan(64 * 1024 * 1024);
  });

  it('when the worker starts serving a while after accepting, no early message is lost', async () => {
    const server = await listenOnce('127.0.0.1', 0);
    const port = (server.address() as AddressInfo).port;
    const served = (async () => {
      const ws = await acceptOne(server, { maxPayload: 1 << 22, timeoutMs: 10_000 });
      // The client's hello arrives during this pause.
      await new Promise((r) => setTimeout(r, 300));
      return serveBuild(ws, { worker: 'late', image: TEST_IMAGE }, async (build) => {
        for (const name of ['config', 'commit', 'source', 'deps'] as const)
          for await (const _ of build.stream(name));
        return { ok: false, error: new WorkerError('BUILD_FAILED', 'served late') };
      });
    })();
    await expect(
      submitBuild(await connectTo(port), submission(), {
        bundleFile: '/dev/null',
        limits: { totalTimeoutMs: 5000 },
      }),
    ).rejects.toHaveCode('BUILD_FAILED');
    await expect(served).resolves.toMatchObject({ code: 'BUILD_FAILED' });
  });

  it('when a client connects before the worker starts accepting, its connection is served', async () => {
    const server = await listenOnce('127.0.0.1', 0);
    const port = (server.address() as AddressInfo).port;
    const sock = await connectTo(port);
    await new Promise((r) => setTimeout(r, 200));
    const served = acceptOne(server, { maxPayload: 1 << 22, timeoutMs: 10_000 }).then((ws) =>
      serveBuild(ws, { worker: 'late', image: TEST_IMAGE }, async (build) => {
        for (const name of ['config', 'commit', 'source', 'deps'] as const)
          for await (const _ of build.stream(name));
        return { ok: false, error: new WorkerError('BUILD_FAILED', 'accepted late') };
      }),
    );
    await expect(
      submitBuild(sock, submission(), {
        bundleFile: '/dev/null',
        limits: { totalTimeoutMs: 5000 },
      }),
    ).rejects.toHaveCode('BUILD_FAILED');
    await expect(served).resolves.toMatchObject({ code: 'BUILD_FAILED' });
  });

  it('when the client offers only an unknown version, both sides refuse with PROTOCOL_VERSION', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}));
    const err = await submitBuild(await connectTo(worker.port), submission(), {
      bundleFile: join(worker.dir, 'b'),
      versions: [99],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toHaveCode('PROTOCOL_VERSION');
    await expect(worker.outcome).resolves.toMatchObject({
      ok: false,
      code: 'PROTOCOL_VERSION',
      sentToClient: true,
    });
  });

  it('when the worker speaks only a version the client does not, the client is refused with PROTOCOL_VERSION', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}), { versions: [3] });
    await expect(
      submitBuild(await connectTo(worker.port), submission(), {
        bundleFile: join(worker.dir, 'b'),
      }),
    ).rejects.toHaveCode('PROTOCOL_VERSION');
  });

  it('when a worker of version 1 (before unsealing) meets a client of version 2, they build unsigned on version 1', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(5), {}), { versions: [1] });
    const res = await submitBuild(await connectTo(worker.port), submission(), {
      bundleFile: join(worker.dir, 'b'),
    });
    expect(res.version).toBe(1);
    expect(SUPPORTED_VERSIONS).toEqual([2, 1]);
  });

  it('when the client holds a builder key and the worker speaks only version 1, the client refuses with PROTOCOL_VERSION before sending', async () => {
    let handled = false;
    worker = await startTestWorker(
      async () => {
        handled = true;
        return { ok: false, error: new WorkerError('WORKER_INTERNAL', 'unreachable') };
      },
      { versions: [1] },
    );
    const err = await submitBuild(
      await connectTo(worker.port),
      { ...submission(), signing: { keyFingerprint: `sha256:${'ab'.repeat(32)}` } },
      { bundleFile: join(worker.dir, 'b'), unseal: () => Promise.resolve(new Uint8Array(1)) },
    ).catch((e: unknown) => e);
    expect(err).toHaveCode('PROTOCOL_VERSION');
    expect((err as ProtocolError).path).toBe('signing');
    await expect(worker.outcome).resolves.toMatchObject({ ok: false, code: 'PROTOCOL_VERSION' });
    expect(handled).toBe(false);
  });

  it('when a version 1 session announces a builder key, the worker refuses it with PROTOCOL_VERSION', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}));
    const reply = await rawExchange(worker.port, [
      { type: 'hello', protocol: 'tee-compile', versions: [1], client: 'raw' },
      {
        type: 'build',
        nonce: '00'.repeat(32),
        workdir: '.',
        source: { repository: null, commit: null, tree: 'b'.repeat(40), objectFormat: 'sha1' },
        inputs: { config: 0, commit: 0, source: 0, deps: 0 },
        signing: { keyFingerprint: `sha256:${'ab'.repeat(32)}` },
      },
    ]);
    expect(reply[0]).toMatchObject({ type: 'hello', version: 1 });
    expect(reply.at(-1)).toMatchObject({
      type: 'error',
      code: 'PROTOCOL_VERSION',
    });
    await expect(worker.outcome).resolves.toMatchObject({ ok: false, code: 'PROTOCOL_VERSION' });
  });

  it('when an input is larger than the worker accepts, the client refuses before sending, naming the input', async () => {
    let handled = false;
    worker = await startTestWorker(
      async () => {
        handled = true;
        return { ok: false, error: new WorkerError('WORKER_INTERNAL', 'unreachable') };
      },
      { limits: { maxInputBytes: { config: 1024, commit: 1024, source: 4096, deps: 1024 } } },
    );
    const err = await submitBuild(
      await connectTo(worker.port),
      submission({ source: bytesInput(Buffer.alloc(5000)) }),
      { bundleFile: join(worker.dir, 'b') },
    ).catch((e: unknown) => e);
    expect(err).toHaveCode('PROTOCOL_LIMIT');
    expect((err as ProtocolError).path).toBe('inputs.source');
    expect((err as Error).message).toMatch(
      /input 'source' is 5000 bytes; the worker accepts at most 4096/,
    );
    await worker.outcome;
    expect(handled).toBe(false);
  });

  it('when a client announces an input over the limit anyway, the worker refuses it with PROTOCOL_LIMIT', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}), {
      limits: { maxInputBytes: { config: 1024, commit: 1024, source: 4096, deps: 1024 } },
    });
    const reply = await rawExchange(worker.port, [
      { type: 'hello', protocol: 'tee-compile', versions: [1], client: 'raw' },
      {
        type: 'build',
        nonce: '00'.repeat(32),
        workdir: '.',
        source: { repository: null, commit: null, tree: 'b'.repeat(40), objectFormat: 'sha1' },
        inputs: { config: 10, commit: 10, source: 1e9, deps: 0 },
      },
    ]);
    expect(reply.at(-1)).toMatchObject({ type: 'error', code: 'PROTOCOL_LIMIT' });
    await expect(worker.outcome).resolves.toMatchObject({ ok: false, code: 'PROTOCOL_LIMIT' });
  });

  it('when a message has an unknown field, the worker refuses it with PROTOCOL_MALFORMED naming the field', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}));
    const reply = await rawExchange(worker.port, [
      { type: 'hello', protocol: 'tee-compile', versions: [1], client: 'raw', extra: true },
    ]);
    expect(reply.at(-1)).toMatchObject({ type: 'error', code: 'PROTOCOL_MALFORMED' });
    expect(String(reply.at(-1)?.message)).toMatch(/extra: unknown field/);
  });

  it('when the worker refuses the build, the client gets a WorkerError with the code, exit status and log tail', async () => {
    worker = await startTestWorker(async (build) => {
      await build.readAll('config');
      await build.readAll('commit');
      for await (const _ of build.stream('source'));
      for await (const _ of build.stream('deps'));
      const e = new WorkerError('BUILD_FAILED', 'the build command exited with status 3');
      e.exitCode = 3;
      e.signal = null;
      e.logTail = ['compiling', 'error: boom'];
      return { ok: false, error: e };
    });
    const err = await submitBuild(await connectTo(worker.port), submission(), {
      bundleFile: join(worker.dir, 'b'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect(err).toMatchObject({
      code: 'BUILD_FAILED',
      exitCode: 3,
      signal: null,
      logTail: ['compiling', 'error: boom'],
    });
    await expect(worker.outcome).resolves.toMatchObject({
      ok: false,
      code: 'BUILD_FAILED',
      sentToClient: true,
    });
  });

  it('when the worker refuses early, the client stops sending a large input and reports the refusal', async () => {
    worker = await startTestWorker(async (build) => {
      await build.readAll('config');
      return {
        ok: false,
        error: new WorkerError('CONFIG_INVALID', 'output.files: required', {
          path: 'output.files',
        }),
      };
    });
    const err = await submitBuild(
      await connectTo(worker.port),
      submission({ source: generatedInput(2 * 1024 ** 3) }),
      { bundleFile: join(worker.dir, 'b') },
    ).catch((e: unknown) => e);
    expect(err).toHaveCode('CONFIG_INVALID');
    expect((err as WorkerError).path).toBe('output.files');
  });

  it('when the connection drops during the upload, both sides report PROTOCOL_CONNECTION_LOST', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}));
    const sock = await connectTo(worker.port);
    const source = generatedInput(512 * 1024 * 1024);
    let sent = 0;
    const dropping = {
      size: source.size,
      open: async function* () {
        for await (const c of source.open()) {
          sent += c.length;
          if (sent > 8 * 1024 * 1024) sock.destroy();
          yield c;
        }
      },
    };
    await expect(
      submitBuild(sock, submission({ source: dropping }), { bundleFile: join(worker.dir, 'b') }),
    ).rejects.toHaveCode('PROTOCOL_CONNECTION_LOST');
    await expect(worker.outcome).resolves.toMatchObject({
      ok: false,
      code: 'PROTOCOL_CONNECTION_LOST',
      sentToClient: false,
    });
  });

  it('when the worker goes away during the build, the client reports PROTOCOL_CONNECTION_LOST and the build is aborted', async () => {
    let aborted: unknown;
    worker = await startTestWorker(async (build, report) => {
      await build.readAll('config');
      await build.readAll('commit');
      for await (const _ of build.stream('source'));
      for await (const _ of build.stream('deps'));
      report.phase('building');
      build.signal.addEventListener('abort', () => {
        aborted = build.signal.reason as unknown;
      });
      (await worker!.socket).terminate();
      await new Promise((r) => setTimeout(r, 200));
      return { ok: false, error: new WorkerError('BUILD_FAILED', 'killed') };
    });
    const phases: string[] = [];
    await expect(
      submitBuild(await connectTo(worker.port), submission(), {
        bundleFile: join(worker.dir, 'b'),
        onEvent: (e) => e.type === 'phase' && phases.push(e.phase),
      }),
    ).rejects.toHaveCode('PROTOCOL_CONNECTION_LOST');
    expect(phases).toContain('building');
    expect(aborted).toHaveCode('PROTOCOL_CONNECTION_LOST');
  });

  it('when the client cancels during the build, the worker sees PROTOCOL_CANCELLED and the client rejects with it', async () => {
    let aborted: unknown;
    const ac = new AbortController();
    worker = await startTestWorker(async (build, report) => {
      await build.readAll('config');
      await build.readAll('commit');
      for await (const _ of build.stream('source'));
      for await (const _ of build.stream('deps'));
      report.phase('building');
      await new Promise<void>((resolve) =>
        build.signal.addEventListener('abort', () => {
          aborted = build.signal.reason as unknown;
          resolve();
        }),
      );
      return { ok: false, error: build.signal.reason as ProtocolError };
    });
    await expect(
      submitBuild(await connectTo(worker.port), submission(), {
        bundleFile: join(worker.dir, 'b'),
        signal: ac.signal,
        onEvent: (e) => e.type === 'phase' && e.phase === 'building' && ac.abort(),
      }),
    ).rejects.toHaveCode('PROTOCOL_CANCELLED');
    await worker.outcome;
    expect(aborted).toHaveCode('PROTOCOL_CANCELLED');
  });

  it('when the client cancels during the upload, the worker reports PROTOCOL_CANCELLED, not a malformed input', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}));
    const ac = new AbortController();
    const source = generatedInput(256 * 1024 * 1024);
    let sent = 0;
    const cancelling = {
      size: source.size,
      open: async function* () {
        for await (const c of source.open()) {
          sent += c.length;
          if (sent === 4 * 1024 * 1024) ac.abort();
          yield c;
        }
      },
    };
    await expect(
      submitBuild(await connectTo(worker.port), submission({ source: cancelling }), {
        bundleFile: join(worker.dir, 'b'),
        signal: ac.signal,
      }),
    ).rejects.toHaveCode('PROTOCOL_CANCELLED');
    await expect(worker.outcome).resolves.toMatchObject({ ok: false, code: 'PROTOCOL_CANCELLED' });
  });

  it('when the client goes silent, the worker drops it with PROTOCOL_IDLE_TIMEOUT', async () => {
    worker = await startTestWorker(echoHandler(new Uint8Array(1), {}), {
      limits: { idleTimeoutMs: 300 },
    });
    // A peer that completes the handshake, then neither sends nor answers pings.
    const ws = new WebSocket(`ws://127.0.0.1:${worker.port}/`, { autoPong: false });
    await new Promise((r) => ws.once('open', r));
    await expect(worker.outcome).resolves.toMatchObject({
      ok: false,
      code: 'PROTOCOL_IDLE_TIMEOUT',
    });
    ws.terminate();
  });

  it('when the worker goes silent, the client gives up with PROTOCOL_IDLE_TIMEOUT', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as { port: number }).port;
    try {
      await expect(
        submitBuild(await connectTo(port), submission(), {
          bundleFile: '/dev/null',
          limits: { idleTimeoutMs: 300 },
        }),
      ).rejects.toHaveCode('PROTOCOL_IDLE_TIMEOUT');
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
    }
  });

  it('when the exchange outlasts its total timeout, it ends with PROTOCOL_TIMEOUT', async () => {
    worker = await startTestWorker(async (build) => {
      await build.readAll('config');
      await new Promise((r) => build.signal.addEventListener('abort', r));
      return { ok: false, error: new WorkerError('WORKER_INTERNAL', 'late') };
    });
    await expect(
      submitBuild(await connectTo(worker.port), submission(), {
        bundleFile: join(worker.dir, 'b'),
        limits: { totalTimeoutMs: 400 },
      }),
    ).rejects.toHaveCode('PROTOCOL_TIMEOUT');
  });

  it('when a second client races the first, it is refused with PROTOCOL_BUSY', async () => {
    const seen: Record<string, string> = {};
    worker = await startTestWorker(echoHandler(new Uint8Array(8), seen));
    const first = await connectTo(worker.port);
    const second = await connectTo(worker.port);
    const one = submitBuild(first, submission(), { bundleFile: join(worker.dir, 'one') });
    await worker.socket;
    await expect(
      submitBuild(second, submission(), { bundleFile: join(worker.dir, 'two') }),
    ).rejects.toHaveCode('PROTOCOL_BUSY');
    await expect(one).resolves.toMatchObject({ subjects: [{ name: 'out/a' }] });
  });
});

/** Sends raw JSON messages over a plain WebSocket and collects the replies until the close. */
async function rawExchange(port: number, messages: object[]): Promise<Record<string, unknown>[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const replies: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) =>
    replies.push(JSON.parse(d.toString('utf8')) as Record<string, unknown>),
  );
  await new Promise((r) => ws.once('open', r));
  for (const m of messages) ws.send(JSON.stringify(m));
  await new Promise((r) => ws.once('close', r));
  return replies;
}
