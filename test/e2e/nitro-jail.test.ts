/**
 * A hostile build command on the nitro path, with the worker jailing it as the images do
 * (`--jail`): the build runs as another user, cannot make vsock sockets (its way to the parent
 * instance), cannot reach servers on the host's loopback, and leaves nothing running once its
 * command ends, while an honest build still produces a bundle that verifies. The same project on a
 * host whose worker does not jail is the control: there every one of those attempts succeeds.
 *
 * Jailing needs root, as in the enclave; CI runs as root.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { constants, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { readBundle } from '../../src/bundle/index.js';
import { runBuild } from '../../src/client/run-build.js';
import { createBackend } from '../../src/enclave/backends.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { runCli } from '../support/cli/cli.js';
import {
  CAN_JAIL,
  buildJail,
  buildProbe,
  parseProbe,
  processesWith,
} from '../support/processes/jail.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';

const E = constants.errno;

let dir: string;
let probe: string;
let server: Server;
let port: number;
let connections = 0;
const marker = `987.${process.pid}`;
const repos: TestRepo[] = [];
const hosts: StandinHost[] = [];

/** Builds the hostile project on a stand-in host; returns the probe's report and the bundle. */
async function hostileBuild(
  jail: boolean,
): Promise<{ probe: Record<string, string>; bundle: string }> {
  const host = await createStandinHost(jail ? { jail: await buildJail() } : {});
  hosts.push(host);
  const cmd = [
    `${probe} /nonexistent ${port} > probe.txt`,
    // Left running in a session of its own; the command waits until it is (setsid has run).
    `setsid sh -c 'echo $$ > left.pid; exec sleep ${marker}' >/dev/null 2>&1 &`,
    'while [ ! -s left.pid ]; do sleep 0.05; done',
    'echo built > out.txt',
  ].join('\n');
  const repo = await makeRepo(goProject(cmd, {}, ['out.txt', 'probe.txt']));
  repos.push(repo);
  const bundle = join(dir, `${jail ? 'jailed' : 'open'}.bundle.tar.gz`);
  await runBuild({
    dir: repo.dir,
    out: bundle,
    backend: createBackend('nitro', {
      catalog: host.catalog,
      nitro: host.backendConfig({ owner: jail ? 'jailed' : 'open' }),
    }),
    catalog: host.catalog,
  });
  const read = await readBundle(fileChunks(bundle));
  const text = Buffer.from(read.artifacts.get('probe.txt')!).toString('utf8');
  return { probe: parseProbe(text), bundle };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tc-nitro-jail-'));
  probe = await buildProbe();
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const pid of await processesWith(marker)) process.kill(pid, 'SIGKILL');
  for (const r of repos) await r.remove();
  for (const h of hosts) await h.remove();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

(CAN_JAIL ? describe : describe.skip)('a hostile build command on a nitro host', () => {
  it('when the worker does not jail it (the control), it runs as root, makes vsock sockets, reaches the host and outlives its command', async () => {
    const before = connections;
    const { probe: p } = await hostileBuild(false);
    expect(p).toMatchObject({ uid: '0', setuid0: 'ok', inet: 'ok', host_tcp: 'ok' });
    expect(p.vsock).not.toBe(String(E.EACCES));
    expect(connections).toBe(before + 1);
    const left = await processesWith(marker);
    expect(left.length).toBe(1);
    for (const pid of left) process.kill(pid, 'SIGKILL');
  });

  it('when the worker jails it, none of that works, and the bundle still verifies', async () => {
    const before = connections;
    const { probe: p, bundle } = await hostileBuild(true);
    expect(p).toMatchObject({ uid: '10001', gid: '10001', groups: '0', seccomp: '2' });
    expect(p.setuid0).toBe(String(E.EPERM));
    expect(p.vsock).toBe(String(E.EACCES));
    expect(p.host_tcp).toBe(String(E.ECONNREFUSED));
    expect(connections).toBe(before);
    expect(await processesWith(marker)).toEqual([]);

    const verified = await runCli(['verify', bundle, '--allow-simulated', '--json']);
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.stdout) as { subjects: { name: string }[] };
    expect(report.subjects.map((s) => s.name).sort()).toEqual(['out.txt', 'probe.txt']);
  });
});
