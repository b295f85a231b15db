/**
 * The agent's life across stops and time (stand-in backend, scripted executor): graceful stop and
 * restart on the same data directory, retention by age and by total size, the queue bound.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIN_RESULT_HOLD_MS } from '../../src/agent/retention.js';
import {
  ScriptedExecutor,
  StandInBackend,
  scriptedConfig,
  scriptedSource,
} from '../support/agent/agent-fakes.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  json,
  removeDir,
  postBuild,
  startTestAgent,
  submitBuild,
  tempDir,
  waitFinished,
  waitFor,
} from '../support/agent/agent-harness.js';

let work: string;
let zipB64: string;

function submit(agent: TestAgent, cmd: string): Promise<string> {
  return submitBuild(agent, { source_data: zipB64, config: scriptedConfig(cmd) });
}

beforeAll(async () => {
  work = await tempDir('tc-agent-life-');
  zipB64 = await scriptedSource(work);
});

afterAll(async () => {
  await removeDir(work);
});

describe('agent lifecycle', () => {
  it('when stopped during a build, the build fails as agent_stopped, queued jobs resume at the next start, and a queued job whose inputs vanished fails as inputs_lost', async () => {
    const dataDir = await tempDir('tc-agent-life-data-');
    const executor = new ScriptedExecutor();
    const backend = new StandInBackend();
    const first = await startTestAgent({
      dataDir,
      executor,
      backend,
      config: { maxConcurrent: 1, shutdownGraceSeconds: 0.2 },
    });
    const running = await submit(first, 'hold');
    const kept = await submit(first, 'ok');
    const lost = await submit(first, 'ok');
    await waitFor(() => executor.holding().includes(running));
    await first.stop();
    expect(backend.running.size).toBe(0);
    await rm(join(dataDir, 'jobs', lost, 'inputs', 'source.zip'));

    const second = await startTestAgent({
      dataDir,
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      config: { maxConcurrent: 1 },
    });
    try {
      expect(await json(await second.fetch(`/build/${running}`))).toMatchObject({
        state: 'failed',
        error: { type: 'agent_stopped' },
      });
      expect(await json(await second.fetch(`/build/${lost}`))).toMatchObject({
        state: 'failed',
        error: { type: 'inputs_lost' },
      });
      expect((await waitFinished(second.fetch, kept)).state).toBe('succeeded');
      // The resumed job's events continue its earlier log: ids go on from the first life.
      const events = await (await second.fetch(`/build/${kept}/events`)).text();
      const ids = [...events.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      expect(ids).toEqual(ids.map((_x, i) => i + 1));
      expect(events).toMatch(/event: queued[\s\S]*event: started[\s\S]*event: complete/);
    } finally {
      await second.stop();
      await removeDir(dataDir);
    }
  });

  it('when job records were written before workdir and repository existed, they still load: at the source root, with no repository', async () => {
    const dataDir = await tempDir('tc-agent-life-old-');
    const holder = new ScriptedExecutor();
    const first = await startTestAgent({
      dataDir,
      executor: holder,
      backend: new StandInBackend(),
      config: { maxConcurrent: 1, shutdownGraceSeconds: 0.2 },
    });
    const finished = await submit(first, 'ok');
    await waitFinished(first.fetch, finished);
    // A held build keeps the next job queued when the agent stops.
    const running = await submit(first, 'hold');
    const queued = await submit(first, 'ok');
    await waitFor(() => holder.holding().includes(running));
    await first.stop();
    for (const id of [finished, queued]) {
      const file = join(dataDir, 'jobs', id, 'job.json');
      const record = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      expect(record).toMatchObject({ workdir: '.', repository: null });
      delete record.workdir;
      delete record.repository;
      await writeFile(file, JSON.stringify(record) + '\n');
    }

    const executor = new ScriptedExecutor();
    const second = await startTestAgent({
      dataDir,
      executor,
      backend: new StandInBackend(),
      config: { maxConcurrent: 1 },
    });
    try {
      expect(await json(await second.fetch(`/build/${finished}`))).toMatchObject({
        state: 'succeeded',
        source: { archive: 'zip', workdir: '.', repository: null },
      });
      expect(await waitFinished(second.fetch, queued)).toMatchObject({
        state: 'succeeded',
        source: { workdir: '.', repository: null },
      });
      expect(executor.jobs.map((j) => [j.jobId, j.workdir, j.repository])).toEqual([
        [queued, '.', null],
      ]);
      expect(second.logs.filter((l) => l.msg === 'job record unreadable; left in place')).toEqual(
        [],
      );
    } finally {
      await second.stop();
      await removeDir(dataDir);
    }
  });

  it('when another live agent holds the data directory, a second one refuses to start; a stale lock is taken over', async () => {
    const dataDir = await tempDir('tc-agent-life-lock-');
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'agent'], {
      stdio: 'ignore',
    });
    try {
      // spawn() returns before the child has exec'd: wait until its command line is its own.
      await waitFor(async () =>
        (await readFile(`/proc/${holder.pid}/cmdline`, 'utf8').catch(() => '')).includes('agent'),
      );
      await writeFile(join(dataDir, 'agent.pid'), `${holder.pid}\n`);
      await expect(
        startTestAgent({
          dataDir,
          executor: new ScriptedExecutor(),
          backend: new StandInBackend(),
        }),
      ).rejects.toHaveCode('AGENT_DATA_DIR');
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      const agent = await startTestAgent({
        dataDir,
        executor: new ScriptedExecutor(),
        backend: new StandInBackend(),
      });
      await agent.stop();
    } finally {
      holder.kill('SIGKILL');
      await removeDir(dataDir);
    }
  });

  it('when results are older than the retention age or add up to more than its budget, the oldest are pruned, never one younger than the hold time', async () => {
    let now = Date.UTC(2026, 0, 1);
    const agent = await startTestAgent({
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      clock: () => now,
      config: { retention: { maxAgeHours: 24, maxTotalBytes: 1 } },
    });
    try {
      const a = await submit(agent, 'ok');
      await waitFinished(agent.fetch, a);
      now += MIN_RESULT_HOLD_MS + 1000;
      const b = await submit(agent, 'ok');
      await waitFinished(agent.fetch, b);
      // A job is pruned only once its runner has returned (its folder fully written).
      await agent.running.agent.idle();
      await agent.running.agent.prune();
      // a is over the size budget and past the hold time; b is within it.
      expect((await agent.fetch(`/build/${a}`)).status).toBe(404);
      expect((await agent.fetch(`/build/${b}/result`)).status).toBe(200);
      now += 25 * 3_600_000;
      await agent.running.agent.prune();
      expect((await agent.fetch(`/build/${b}`)).status).toBe(404);
      expect(agent.logs.filter((l) => l.msg === 'job pruned').map((l) => l.reason)).toEqual([
        'total_bytes',
        'age',
      ]);
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });

  it('when the queue is full, POST /build answers 503 with Retry-After', async () => {
    const executor = new ScriptedExecutor();
    const agent = await startTestAgent({
      executor,
      backend: new StandInBackend(),
      config: { maxConcurrent: 1, limits: { maxQueuedJobs: 1 } },
    });
    try {
      const running = await submit(agent, 'hold');
      await waitFor(() => executor.holding().includes(running));
      await submit(agent, 'ok');
      const res = await postBuild(agent, { source_data: zipB64 });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(await json(res)).toMatchObject({ error: { type: 'unavailable' } });
      executor.release(running);
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });

  it('when a result is asked with HEAD, it answers its length and ETag without a body', async () => {
    const agent = await startTestAgent({
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
    });
    try {
      const id = await submit(agent, 'ok');
      await waitFinished(agent.fetch, id);
      const head = await agent.fetch(`/build/${id}/result`, { method: 'HEAD' });
      const get = await agent.fetch(`/build/${id}/result`);
      const body = Buffer.from(await get.arrayBuffer());
      expect(head.status).toBe(200);
      expect(Number(head.headers.get('content-length'))).toBe(body.length);
      expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });
});
