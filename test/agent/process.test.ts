/**
 * The agent as a real process (the built `tee-compile agent`, local backend): `kill -9` during a
 * build and after one, then a restart on the same data directory (the action's client following
 * the interrupted build across it); SIGTERM; single-build mode.
 * Needs `npm run build` (lib/).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentEvent } from '../../src/action/agent-client.js';
import { AgentClient } from '../../src/action/agent-client.js';
import type { AgentProcess } from '../support/agent/agent-harness.js';
import {
  TEST_TOKEN,
  json,
  removeDir,
  spawnAgent,
  tempDir,
  waitFinished,
  waitFor,
} from '../support/agent/agent-harness.js';
import { goProject, verifyResult } from '../support/agent/agent-pipeline.js';
import { commitAll, writeProject, zipDir } from '../support/source/agent-sources.js';
import { tmpdirForKilledProcesses } from '../support/temp.js';

let work: string;
let quickZip: string;
let slowZip: string;
let quickCommit: string;

/** Pids of processes whose command line mentions `text` (the job id is in the sandbox's paths). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmdline = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(p));
  }
  return pids;
}

function client(url: string) {
  const f = (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${TEST_TOKEN}`);
    return fetch(url + path, { ...init, headers });
  };
  const submit = async (zip: string, nonce?: string): Promise<string> => {
    const form = new FormData();
    form.append('source', new Blob([await readFile(zip)]), 'source.zip');
    if (nonce) form.append('nonce', nonce);
    const res = await f('/build', { method: 'POST', body: form });
    expect(res.status).toBe(202);
    return (await json<{ job_id: string }>(res)).job_id;
  };
  return { fetch: f, submit };
}

async function startAgent(dataDir: string, extra: string[] = []): Promise<AgentProcess> {
  return spawnAgent([
    '--backend',
    'local',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--token-file',
    join(work, 'token'),
    '--config',
    join(work, 'agent.json'),
    ...extra,
  ]);
}

// Processes are killed here on purpose; what they leave in TMPDIR goes with this file.
tmpdirForKilledProcesses();

beforeAll(async () => {
  work = await tempDir('tc-agent-proc-');
  await writeFile(join(work, 'token'), TEST_TOKEN + '\n', { mode: 0o600 });
  await writeFile(
    join(work, 'agent.json'),
    JSON.stringify({ maxConcurrent: 1, shutdownGraceSeconds: 5, limits: { minFreeBytes: 0 } }),
  );
  const quick = join(work, 'quick');
  await writeProject(quick, goProject('cat message.txt > out.txt'));
  await writeProject(quick, { 'message.txt': 'quick\n' });
  quickCommit = await commitAll(quick);
  quickZip = join(work, 'quick.zip');
  await zipDir(quick, quickZip);
  const slow = join(work, 'slow');
  await writeProject(slow, goProject('echo started; sleep 300; echo late > out.txt'));
  await commitAll(slow);
  slowZip = join(work, 'slow.zip');
  await zipDir(slow, slowZip);
});

afterAll(async () => {
  await removeDir(work);
});

describe('agent process', () => {
  it('when killed with -9 during a build and after one, a restart keeps the finished result byte for byte, fails the interrupted job with its reason, cleans its enclave up and runs the queued job', async () => {
    const dataDir = join(work, 'data-crash');
    const first = await startAgent(dataDir);
    const c1 = client(first.url);
    const done = await c1.submit(quickZip, 'aa'.repeat(32));
    expect((await waitFinished(c1.fetch, done)).state).toBe('succeeded');
    const before = Buffer.from(await (await c1.fetch(`/build/${done}/result`)).arrayBuffer());

    const interrupted = await c1.submit(slowZip);
    const queued = await c1.submit(quickZip, 'bb'.repeat(32));
    // The action's client follows the interrupted job across the crash.
    const seen: AgentEvent[] = [];
    const followed = new AgentClient({
      url: first.url,
      token: TEST_TOKEN,
      sleep: () => new Promise((r) => setTimeout(r, 1000)),
    }).follow(interrupted, (e) => seen.push(e), new AbortController().signal);
    await waitFor(() => seen.some((e) => e.data.phase === 'building'));
    expect(await processesMentioning(interrupted)).not.toEqual([]);
    expect((await json(await c1.fetch(`/build/${queued}`))).state).toBe('queued');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    // Events are appended without an fsync each: a crash may lose the last ones from the file
    // (here, all but the first) although the client saw them.
    const eventsFile = join(dataDir, 'jobs', interrupted, 'events.jsonl');
    await writeFile(eventsFile, (await readFile(eventsFile, 'utf8')).split('\n')[0] + '\n');
    const lastSeen = seen.at(-1)!.id;

    const second = await startAgent(dataDir, ['--listen', new URL(first.url).host]);
    try {
      const c2 = client(second.url);
      // The finished result survived, byte for byte, with the same ETag.
      const res = await c2.fetch(`/build/${done}/result`);
      const after = Buffer.from(await res.arrayBuffer());
      expect(after.equals(before)).toBe(true);
      await verifyResult(after, { nonce: 'aa'.repeat(32), commit: quickCommit });
      // The interrupted job failed with the reason; its enclave was cleaned up.
      expect(await json(await c2.fetch(`/build/${interrupted}`))).toMatchObject({
        state: 'failed',
        error: { type: 'agent_restarted', message: 'agent restarted during the build' },
      });
      expect(
        second.logs.some(
          (l) =>
            l.msg === 'terminated an orphaned enclave' && String(l.enclave).includes(interrupted),
        ),
      ).toBe(true);
      expect(await processesMentioning(interrupted)).toEqual([]);
      expect(await readdir(join(dataDir, 'local-backend', 'run')).catch(() => [])).toEqual(
        expect.not.arrayContaining([expect.stringContaining(interrupted)]),
      );
      // Its event stream ends with the failure, under an id no client saw before the crash: the
      // client that followed it gets it by resuming.
      const events = await (await c2.fetch(`/build/${interrupted}/events`)).text();
      expect(events.trimEnd()).toMatch(
        /event: complete\ndata: \{"ok":false,[^\n]*"error_type":"agent_restarted"/,
      );
      expect(await followed).toMatchObject({ ok: false, errorType: 'agent_restarted' });
      expect(seen.at(-1)!.event).toBe('complete');
      expect(seen.at(-1)!.id).toBeGreaterThan(lastSeen);
      // The queued job was queued again and runs now.
      expect((await waitFinished(c2.fetch, queued)).state).toBe('succeeded');
      await verifyResult(
        Buffer.from(await (await c2.fetch(`/build/${queued}/result`)).arrayBuffer()),
        {
          nonce: 'bb'.repeat(32),
          commit: quickCommit,
        },
      );
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toEqual({ code: 0, signal: null });
    }
  });

  it('when SIGTERM arrives during a build, it stops taking jobs, stops the build after the grace period, and exits 0', async () => {
    const dataDir = join(work, 'data-term');
    const agent = await startAgent(dataDir);
    const c = client(agent.url);
    const id = await c.submit(slowZip);
    await waitFor(async () => (await json(await c.fetch(`/build/${id}`))).phase === 'building');
    agent.child.kill('SIGTERM');
    // During the grace period no job is taken: the connection is refused or the answer is 503.
    await waitFor(() => agent.logs.some((l) => l.msg === 'waiting for running builds'));
    const late = await c
      .fetch('/build', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      })
      .then(
        (r) => r.status,
        () => 'refused',
      );
    expect([503, 'refused']).toContain(late);
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(await processesMentioning(id)).toEqual([]);
    const record = JSON.parse(
      await readFile(join(dataDir, 'jobs', id, 'job.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(record).toMatchObject({ state: 'failed', error: { type: 'agent_stopped' } });
  });

  it('in single-build mode, it refuses a second build with 409 and exits once the result is fetched', async () => {
    const agent = await startAgent(join(work, 'data-single'), ['--single-build']);
    const c = client(agent.url);
    const id = await c.submit(quickZip);
    const again = await c.fetch('/build', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source_data: (await readFile(quickZip)).toString('base64') }),
    });
    expect(again.status).toBe(409);
    expect((await waitFinished(c.fetch, id)).state).toBe('succeeded');
    const res = await c.fetch(`/build/${id}/result`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(await agent.exited).toEqual({ code: 0, signal: null });
  });
});
