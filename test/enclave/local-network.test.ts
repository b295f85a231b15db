/**
 * The local backend's network isolation, by attack: a build tries to reach TCP servers of the
 * host on loopback and on the host's own non-loopback address. The same command run outside the
 * sandbox reaches them (so the servers and the probe work); inside, nothing arrives. Each case
 * runs on its own: a machine without a host address does not quietly test loopback alone.
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
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { prepare, runSession, submissionOf } from '../support/processes/build-session.js';
import { sandboxBackend } from '../support/processes/sandbox-worker.js';
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
const repos: TestRepo[] = [];
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
  for (const r of repos) await r.remove();
  await rm(cache, { recursive: true, force: true });
});

/**
 * Runs `cmd` (a {@link probe} of `targets`) outside the sandbox, where it must connect, and then
 * as a build; returns what the build printed: one line per target, then `ip -o link`.
 */
async function probeFromBuild(targets: string[], servers: CountingServer[]): Promise<string[]> {
  const cmd = probe(targets);
  // Control: outside the sandbox the same probe connects, and the servers count it.
  const control = await promisify(execFile)('bash', ['-c', cmd]);
  expect(control.stdout.trim().split('\n')).toEqual(targets.map((t) => `${t} connected`));
  expect(servers.reduce((n, s) => n + s.accepted, 0)).toBe(targets.length);
  for (const s of servers) s.accepted = 0;

  const repo = await makeRepo(goProject(`(${cmd}) > out.txt; ip -o link >> out.txt`));
  repos.push(repo);
  const p = await prepare(repo.dir, cache);
  const run = await runSession(backend, 'go', submissionOf(p));
  await p.cleanup();
  expect(run.error).toBeUndefined();
  const bundle = await readBundle(fileChunks(run.bundleFile));
  await run.cleanup();
  return Buffer.from(bundle.artifacts.get('out.txt')!).toString('utf8').trim().split('\n');
}

/**
 * The host's own address. A machine without one cannot run that case: on CI (which has one) the
 * case fails saying so; elsewhere it is reported as skipped, with the reason in its name.
 */
const HOST_ADDRESS = hostAddress();
const hostCase = HOST_ADDRESS === undefined && !process.env.CI ? it.skip : it;

describe('local backend network isolation', () => {
  it('when a build connects to a host server on loopback, it is refused, the server receives nothing, and only loopback exists inside', async () => {
    const target = `127.0.0.1:${loopback.port}`;
    const out = await probeFromBuild([target], [loopback]);
    expect(out[0]).toBe(`${target} refused`);
    expect(out.slice(1).map((l) => l.split(':')[1]?.trim())).toEqual(['lo']);
    expect(loopback.accepted).toBe(0);
  });

  hostCase(
    HOST_ADDRESS === undefined
      ? 'when a build connects to a host server on the host address (not run: this machine has no non-loopback IPv4 address)'
      : `when a build connects to a host server on the host's own address (${HOST_ADDRESS}), it is refused and the server receives nothing`,
    async () => {
      if (HOST_ADDRESS === undefined)
        throw new Error(
          'this machine has no non-loopback IPv4 address, so the host-address case cannot run; CI machines must have one',
        );
      const targets = [`${HOST_ADDRESS}:${external.port}`, `127.0.0.1:${loopback.port}`];
      const out = await probeFromBuild(targets, [external, loopback]);
      expect(out.slice(0, targets.length)).toEqual(targets.map((t) => `${t} refused`));
      expect(external.accepted).toBe(0);
      expect(loopback.accepted).toBe(0);
    },
  );
});
