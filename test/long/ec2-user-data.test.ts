import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { LaunchResult, StopResult } from '../../src/ec2/index.js';
import type { Ec2World } from '../support/aws/ec2-world.js';
import { REPO, startEc2World } from '../support/aws/ec2-world.js';
import type { HostSandbox } from '../support/aws/ec2-host-sandbox.js';
import { createHostSandbox } from '../support/aws/ec2-host-sandbox.js';
import { startImds } from '../support/aws/imds-standin.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';

let w: Ec2World;
let host: StandinHost;
const sandboxes: HostSandbox[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  w = await startEc2World();
  host = await createStandinHost();
  w.catalog = host.catalog;
});
afterAll(async () => {
  for (const s of sandboxes) {
    for (const pid of s.unitPids())
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already ended
      }
    await s.close();
  }
  for (const c of closers) await c();
  await host.remove();
  await w.stop();
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function sandboxFor(tamper = false): Promise<HostSandbox> {
  const eifs: Record<string, string> = {};
  for (const e of host.catalog.images) eifs[new URL(e.eif!.url).pathname] = host.eifs[e.name]!;
  const s = await createHostSandbox({
    catalog: host.catalog,
    eifs,
    nitroCliDir: dirname(host.nitroCli),
    runnerVersion: '2.321.0',
    tamper,
  });
  sandboxes.push(s);
  return s;
}

/** Launches, then runs the instance's user data (read from IMDS as cloud-init does) in `s`. */
async function boot(
  s: HostSandbox,
  agentPort: number,
): Promise<{ r: LaunchResult; code: number; stderr: string; script: string; imdsCalls: string[] }> {
  const r = (
    await w.run('launch', w.launchOptions({ 'runner-sha256': s.runnerSha256, images: 'go' }))
  ).result as LaunchResult;
  const imds = await startImds(w.ec2.instances.get(r.instanceId)!);
  closers.push(() => imds.close());
  const token = await (
    await fetch(`${imds.url}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
    })
  ).text();
  const script = await (
    await fetch(`${imds.url}/latest/user-data`, { headers: { 'x-aws-ec2-metadata-token': token } })
  ).text();
  const file = join(s.dir, 'user-data');
  writeFileSync(file, script);
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    const c = spawn('bash', [file], {
      env: {
        PATH: s.path,
        HOME: s.dir,
        TC_ROOT: s.root,
        TC_IMDS: imds.url,
        TC_AGENT_LISTEN: `127.0.0.1:${agentPort}`,
        CURL_HOME: s.curlHome,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const err: Buffer[] = [];
    c.stderr.on('data', (b: Buffer) => err.push(b));
    c.on('close', (code) =>
      resolve({ code: code ?? -1, stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
  return {
    r,
    ...result,
    script,
    imdsCalls: imds.requests.map((q) => `${q.method} ${q.path} ${q.status}`),
  };
}

async function waitFor<T>(
  f: () => Promise<T | undefined> | T | undefined,
  what: string,
): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('when the user data of a launched builder runs on the instance', () => {
  it('is shellcheck-clean, prepares the host, starts a healthy agent and registers the runner; stop then ends both', async () => {
    const s = await sandboxFor();
    const port = await freePort();
    const { r, code, stderr, script, imdsCalls } = await boot(s, port);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });

    const shellcheck = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile('shellcheck', ['-s', 'bash', '-'], (e, out) =>
        resolve({ code: e ? Number(e.code) : 0, out }),
      ).stdin!.end(script),
    );
    expect(shellcheck).toEqual({ code: 0, out: '' });

    // The time limit first, IMDSv2 (token, then reads), packages, the pool.
    const calls = s.calls();
    expect(calls[0]).toEqual(['shutdown', '-h', '+60']);
    expect(imdsCalls[0]).toBe('PUT /latest/api/token 200');
    expect(imdsCalls.slice(1).every((c) => c.endsWith(' 200'))).toBe(true);
    expect(calls.find((c) => c[0] === 'dnf')).toEqual(
      expect.arrayContaining(['install', 'aws-nitro-enclaves-cli']),
    );
    expect(readFileSync(join(s.root, 'etc/nitro_enclaves/allocator.yaml'), 'utf8')).toMatch(
      /^memory_mib: 29696\ncpu_count: 6\n/m,
    );
    expect(s.systemctl()).toEqual([
      ['enable', '--now', 'nitro-enclaves-allocator.service'],
      ['daemon-reload'],
      ['enable', '--now', 'tee-compile-agent.service'],
      ['daemon-reload'],
      ['enable', '--now', 'actions-runner.service'],
    ]);
    // The image, checked against images.json.
    const go = host.catalog.images.find((i) => i.name === 'go')!;
    const eif = readFileSync(join(s.root, `var/lib/tee-compile-agent/eif/go-${go.version}.eif`));
    expect(createHash('sha256').update(eif).digest('hex')).toBe(go.eif!.sha256);

    // The agent answers /health.
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);

    // The runner reached GitHub with its JIT configuration and is online under the label.
    const runner = await waitFor(
      () => w.gh.runners.of(REPO).find((x) => x.name === r.label && x.status === 'online'),
      'the runner',
    );
    expect(runner.labels).toEqual([r.label]);

    const stopped = (
      await w.run('stop', {
        'instance-id': r.instanceId,
        repository: REPO,
        'github-token': w.token,
        'github-api-url': w.gh.apiUrl,
      })
    ).result as StopResult;
    expect(stopped).toMatchObject({ instance: 'terminated', runner: 'removed' });
    expect(w.gh.runners.of(REPO).some((x) => x.name === r.label)).toBe(false);
  });

  it('halts at once, before any agent or runner starts, when an image does not match images.json', async () => {
    const s = await sandboxFor(true);
    const { code, r } = await boot(s, await freePort());
    expect(code).not.toBe(0);
    const calls = s.calls();
    expect(calls).toContainEqual(['shutdown', '-h', 'now']);
    expect(s.systemctl()).toEqual([['enable', '--now', 'nitro-enclaves-allocator.service']]);
    expect(w.gh.runners.of(REPO).find((x) => x.name === r.label)?.status).toBe('offline');
  });
});
