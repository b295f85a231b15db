/**
 * The action's client of the agent: the event stream reader, resuming a dropped stream with
 * Last-Event-ID against the real agent behind a proxy that cuts the connection, and the checks on
 * what the agent answers.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { AgentEvent } from '../../src/action/agent-client.js';
import { AgentClient } from '../../src/action/agent-client.js';
import { MAX_SSE_LINE_BYTES, readSse } from '../../src/action/sse.js';
import { packDirectory, writeTarFile } from '../../src/archive/node.js';
import type { ActionAgent } from '../support/action/action-agent.js';
import { startActionAgent } from '../support/action/action-agent.js';
import { makeCheckout, simpleBuildJson } from '../support/source/action-repo.js';
import { tempDirSync } from '../support/temp.js';

async function* chunksOf(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

async function collect(parts: string[]) {
  const out = [];
  for await (const e of readSse(chunksOf(...parts))) out.push(e);
  return out;
}

describe('event stream reader', () => {
  test('when events use LF, CRLF or CR and arrive split anywhere, it reads each once with its id', async () => {
    const events = await collect([
      'retry: 2000\n\n: keep-alive\n\nid: 1\nevent: queued\nda',
      'ta: {"position":0}\n\nid: 2\r\nevent: log\r\ndata: a\r\ndata: b\r',
      '\n\r\nid: 3\revent: complete\rdata: {}\r\r',
    ]);
    expect(events).toEqual([
      { id: '1', event: 'queued', data: '{"position":0}' },
      { id: '2', event: 'log', data: 'a\nb' },
      { id: '3', event: 'complete', data: '{}' },
    ]);
  });

  test('when the stream ends inside an event, it drops that event', async () => {
    expect(await collect(['id: 1\nevent: log\ndata: x\n'])).toEqual([]);
  });

  test('when a line exceeds the bound, it is refused as a protocol error', async () => {
    await expect(collect(['data: ' + 'x'.repeat(MAX_SSE_LINE_BYTES + 1)])).rejects.toHaveCode(
      'AGENT_PROTOCOL',
    );
  });
});

/**
 * A TCP proxy in front of the agent that cuts the first event stream after its first phase event,
 * and records the head of every request.
 */
class CuttingProxy {
  readonly requests: string[] = [];
  private cut = false;
  private server!: ReturnType<typeof createTcpServer>;
  private readonly sockets = new Set<Socket>();
  url = '';

  async start(target: string): Promise<void> {
    const t = new URL(target);
    this.server = createTcpServer((client: Socket) => {
      const upstream = connect(Number(t.port), t.hostname);
      this.sockets.add(client).add(upstream);
      let events = false;
      client.on('data', (b: Buffer) => {
        // A request on a kept-alive connection starts a chunk of its own.
        const text = b.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text) && end >= 0) {
          const req = text.slice(0, end);
          this.requests.push(req);
          events = / \/build\/[^ ]+\/events /.test(req.split('\r\n')[0] ?? '');
        }
        upstream.write(b);
      });
      let seen = '';
      upstream.on('data', (b: Buffer) => {
        client.write(b);
        if (!events || this.cut) return;
        seen += b.toString('utf8');
        if (seen.includes('event: phase')) {
          this.cut = true;
          client.destroy();
          upstream.destroy();
        }
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
      client.on('close', end);
      upstream.on('close', end);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

async function sourceArchive(files: Record<string, string>): Promise<string> {
  const co = makeCheckout(files);
  const file = join(tempDirSync('src-'), 'source.tar.gz');
  await writeTarFile(packDirectory(co.dir, { includeDirectories: true }), file, { gzip: true });
  return file;
}

describe('agent client', () => {
  let agent: ActionAgent;
  beforeAll(async () => {
    agent = await startActionAgent({ inProcess: true });
  });
  afterAll(async () => {
    await agent?.stop();
  });

  test('when the event stream drops mid-build, it resumes after the last event and misses none', async () => {
    const proxy = new CuttingProxy();
    await proxy.start(agent.url);
    try {
      const client = new AgentClient({
        url: proxy.url,
        token: agent.token,
        sleep: () => new Promise((r) => setTimeout(r, 20)),
      });
      const signal = new AbortController().signal;
      const source = await sourceArchive({
        'build.json': simpleBuildJson({ input: { cmd: 'sleep 1; mkdir -p out; echo x > out/x' } }),
      });
      const { jobId } = await client.submit(
        {
          source,
          dependencies: null,
          nonce: 'ab'.repeat(32),
          config: null,
          workdir: '.',
          repository: null,
        },
        signal,
      );
      const events: AgentEvent[] = [];
      const done = await client.follow(jobId, (e) => events.push(e), signal);
      expect(done).toEqual({ ok: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const ids = events.map((e) => e.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids[0]).toBe(1);
      expect(ids.at(-1)! - ids[0]! + 1).toBe(ids.length);
      expect(events.at(-1)!.event).toBe('complete');
      const resumed = proxy.requests.filter((r) => /\/events /.test(r));
      expect(resumed).toHaveLength(2);
      expect(resumed[0]).not.toMatch(/last-event-id/i);
      expect(resumed[1]).toMatch(/\r\nlast-event-id: \d+/i);
    } finally {
      await proxy.stop();
    }
  });

  test("when the job does not exist, it fails at once with the agent's refusal", async () => {
    const client = new AgentClient({ url: agent.url, token: agent.token });
    await expect(
      client.follow(
        '00000000-0000-4000-8000-000000000000',
        () => undefined,
        new AbortController().signal,
      ),
    ).rejects.toThrow(/HTTP 404 not_found/);
  });

  test('when workdir and repository are submitted, the agent records them for the job', async () => {
    const client = new AgentClient({ url: agent.url, token: agent.token });
    const source = await sourceArchive({ 'tools/gen/build.json': simpleBuildJson() });
    const signal = new AbortController().signal;
    const { jobId } = await client.submit(
      {
        source,
        dependencies: null,
        nonce: 'ab'.repeat(32),
        config: null,
        workdir: 'tools/gen',
        repository: 'https://github.com/example/hello',
      },
      signal,
    );
    expect(await client.follow(jobId, () => undefined, signal)).toMatchObject({ ok: true });
    const view = (await (
      await fetch(`${agent.url}/build/${jobId}`, {
        headers: { Authorization: `Bearer ${agent.token}` },
      })
    ).json()) as Record<string, unknown>;
    expect(view.source).toMatchObject({
      workdir: 'tools/gen',
      repository: 'https://github.com/example/hello',
    });
  });

  test('when the agent refuses the repository, it names that field', async () => {
    const client = new AgentClient({ url: agent.url, token: agent.token });
    const source = await sourceArchive({});
    const err = await client
      .submit(
        {
          source,
          dependencies: null,
          nonce: 'ab'.repeat(32),
          config: null,
          workdir: '.',
          repository: 'https://token@github.com/example/hello',
        },
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(err).toHaveCode('AGENT_REJECTED');
    expect((err as Error).message).toMatch(/HTTP 400 invalid_request, field repository/);
  });

  test('when the agent refuses a field, it names the field', async () => {
    const client = new AgentClient({ url: agent.url, token: agent.token });
    const source = await sourceArchive({});
    const err = await client
      .submit(
        {
          source,
          dependencies: null,
          nonce: 'ab'.repeat(32),
          config: '{"language":"cobol"}',
          workdir: '.',
          repository: null,
        },
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(err).toHaveCode('AGENT_REJECTED');
    expect((err as Error).message).toMatch(/HTTP 400 invalid_request, field config/);
  });
});

describe('agent answers that are not the API', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.endsWith('/result')) {
        res.writeHead(200, { 'content-type': 'application/gzip', etag: `"${'0'.repeat(64)}"` });
        res.end('not the announced bytes');
      } else if (req.url === '/build') {
        req.resume();
        req.on('end', () => {
          res.writeHead(202, { 'content-type': 'text/html' });
          res.end('<html>proxy</html>');
        });
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('when the bundle does not match its ETag, it refuses the download', async () => {
    const dest = join(tempDirSync('dl-'), 'b.tar.gz');
    await expect(
      new AgentClient({ url, token: null }).downloadResult(
        'job-1',
        dest,
        new AbortController().signal,
      ),
    ).rejects.toThrow(/a truncated or altered download/);
  });

  test('when the submission answer is not JSON, it is a protocol error', async () => {
    const file = join(tempDirSync('src-'), 's.tar.gz');
    writeFileSync(file, 'x');
    await expect(
      new AgentClient({ url, token: null }).submit(
        {
          source: file,
          dependencies: null,
          nonce: 'ab'.repeat(16),
          config: null,
          workdir: '.',
          repository: null,
        },
        new AbortController().signal,
      ),
    ).rejects.toHaveCode('AGENT_PROTOCOL');
  });
});

describe('an agent restarted during the build', () => {
  let server: Server;
  let url = '';
  const requests: string[] = [];
  const restarted = { type: 'agent_restarted', message: 'agent restarted during the build' };
  beforeAll(async () => {
    // The first stream ends after three events (the agent died); the restarted agent gave its
    // `complete` an id the client had already seen (an agent that reused ids), so it is skipped.
    server = createServer((req, res) => {
      const last = req.headers['last-event-id'];
      requests.push(`${req.url ?? ''}${last === undefined ? '' : ` after ${String(last)}`}`);
      if (req.url === '/build/job-1/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (last === undefined)
          res.end(
            'retry: 10\n\nid: 1\nevent: queued\ndata: {}\n\nid: 2\nevent: started\ndata: {}\n\n' +
              'id: 3\nevent: phase\ndata: {"phase":"building"}\n\n',
          );
        else
          res.end(
            `id: 3\nevent: complete\ndata: ${JSON.stringify({ ok: false, error_type: restarted.type, message: restarted.message })}\n\n`,
          );
      } else if (req.url === '/build/job-1') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ job_id: 'job-1', state: 'failed', error: restarted }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('when the stream ends without complete and the job failed meanwhile, it reports the real reason, not AGENT_UNREACHABLE', async () => {
    const client = new AgentClient({ url, token: null, sleep: () => Promise.resolve() });
    const events: AgentEvent[] = [];
    const done = await client.follow('job-1', (e) => events.push(e), new AbortController().signal);
    expect(done).toEqual({
      ok: false,
      errorType: 'agent_restarted',
      message: 'agent restarted during the build',
    });
    expect(events.map((e) => e.event)).toEqual(['queued', 'started', 'phase']);
    // The state is asked before reconnecting; the events missed are asked for once more.
    expect(requests).toEqual([
      '/build/job-1/events',
      '/build/job-1',
      '/build/job-1/events after 3',
    ]);
  });
});
