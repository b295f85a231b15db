/**
 * The local backend's network isolation, by attack: a build tries to reach TCP servers of the
 * host on loopback and on the host's own non-loopback address. The same command run outside the
 * sandbox reaches them (so the servers and the probe work); inside, nothing arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { readBundle } from '../../src/bundle/index.js';
import { fileChunks } from '../../src/archive/node.js';
import type { LocalBackend } from '../../src/enclave/local.js';
import type { TestRepo } from '../support/build-repo.js';
import { goProject, makeRepo } from '../support/build-repo.js';
import { prepare, runSession, submissionOf } from '../support/build-session.js';
import { sandboxBackend } from '../support/sandbox-worker.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface CountingServer {
  server: Server;
  port: number;
  accepted: number;
}

async function countingServer(): Promise<CountingServer> {
  const s: CountingServer = { server: createServer(), port: 0, accepted: 0 };
  s.server.on('connection', (c) => {
    s.accepted++;
    // The probe closes at once; a reset is expected.
    c.on('error', () => undefined);
    c.end('hello\n');
  });
  await new Promise<void>((r) => s.server.listen({ host: '0.0.0.0', port: 0 }, r));
  s.port = (s.server.address() as AddressInfo).port;
  return s;
}

/** The host's first non-loopback IPv4 address, if it has one. */
function hostAddress(): string | undefined {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/** A bash probe: one line per target, `<target> connected` or `<target> refused`. */
function probe(targets: string[]): string {
  return targets
    .map((t) => {
      const [h, p] = t.split(':');
      return `if timeout 5 bash -c 'exec 3<>/dev/tcp/${h}/${p}' 2>/dev/null; then echo "${t} connected"; else echo "${t} refused"; fi`;
    })
    .join('; ');
}

let backend: LocalBackend;
let loopback: CountingServer;
let external: CountingServer;
let repo: TestRepo | undefined;
let cache: string;

beforeAll(async () => {
  backend = await sandboxBackend();
  loopback = await countingServer();
  external = await countingServer();
  cache = await mkdtemp(join(tmpdir(), 'tc-cache-'));
});
afterAll(async () => {
  loopback.server.close();
  external.server.close();
  await repo?.remove();
  await rm(cache, { recursive: true, force: true });
});

describe('local backend network isolation', () => {
  it('when a build connects to host servers on loopback and on the host address, none receives a connection', async () => {
    const addr = hostAddress();
    const targets = [`127.0.0.1:${loopback.port}`, ...(addr ? [`${addr}:${external.port}`] : [])];
    const cmd = probe(targets);

    // Control: outside the sandbox the same probe connects, and the servers count it.
    const control = await promisify(execFile)('bash', ['-c', cmd]);
    expect(control.stdout.trim().split('\n')).toEqual(targets.map((t) => `${t} connected`));
    expect(loopback.accepted + external.accepted).toBe(targets.length);
    loopback.accepted = 0;
    external.accepted = 0;

    repo = await makeRepo(goProject(`(${cmd}) > out.txt; ip -o link >> out.txt`));
    const p = await prepare(repo.dir, cache);
    const run = await runSession(backend, 'go', submissionOf(p));
    await p.cleanup();
    expect(run.error).toBeUndefined();
    const bundle = await readBundle(fileChunks(run.bundleFile));
    await run.cleanup();
    const out = Buffer.from(bundle.artifacts.get('out.txt')!).toString('utf8').trim().split('\n');
    expect(out.slice(0, targets.length)).toEqual(targets.map((t) => `${t} refused`));
    // Only loopback exists inside.
    expect(out.slice(targets.length).map((l) => l.split(':')[1]?.trim())).toEqual(['lo']);
    expect(loopback.accepted).toBe(0);
    expect(external.accepted).toBe(0);
  });
});
