/**
 * The event stream over real HTTP, read by a real SSE client (the `eventsource` package): backlog
 * for late subscribers, resuming with Last-Event-ID, keep-alive comments, the end after
 * `complete`, and many subscribers of one job.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ScriptedExecutor,
  StandInBackend,
  scriptedConfig,
  scriptedSource,
} from '../support/agent/agent-fakes.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  followEvents,
  json,
  removeDir,
  startTestAgent,
  submitBuild,
  tempDir,
  waitFinished,
  waitFor,
} from '../support/agent/agent-harness.js';

let work: string;
let zipB64: string;
let agent: TestAgent;
let executor: ScriptedExecutor;

function submit(cmd: string): Promise<string> {
  return submitBuild(agent, { source_data: zipB64, config: scriptedConfig(cmd) });
}

beforeAll(async () => {
  work = await tempDir('tc-agent-events-');
  zipB64 = await scriptedSource(work);
  executor = new ScriptedExecutor();
  agent = await startTestAgent({
    executor,
    backend: new StandInBackend(),
    config: { sseKeepAliveSeconds: 0.1 },
  });
});

afterAll(async () => {
  await agent.stop();
  await removeDir(agent.dataDir);
  await removeDir(work);
});

describe('agent event stream', () => {
  it('when a client follows a job from the start, it gets queued, started, phases, logs and complete, in id order, then the stream ends', async () => {
    const id = await submit('hold');
    const events = followEvents(agent.url, id);
    await waitFor(() => executor.holding().includes(id));
    executor.release(id);
    const got = await events;
    expect(got.map((e) => e.type)).toEqual([
      'queued',
      'started',
      'phase',
      'phase',
      'phase',
      'log',
      'phase',
      'phase',
      'complete',
    ]);
    expect(got.map((e) => Number(e.id))).toEqual(got.map((_e, i) => i + 1));
    expect(got.filter((e) => e.type === 'phase').map((e) => e.data.phase)).toEqual([
      'preparing',
      'starting-enclave',
      'building',
      'attesting',
      'storing-result',
    ]);
    expect(got.at(-1)!.data).toMatchObject({ ok: true, job_id: id });
  });

  it('when a client subscribes after the job finished, it gets the whole backlog from disk', async () => {
    const id = await submit('logs:5');
    await waitFinished(agent.fetch, id);
    const got = await followEvents(agent.url, id);
    expect(got[0]!.type).toBe('queued');
    expect(got.filter((e) => e.type === 'log')).toHaveLength(5);
    expect(got.at(-1)!.type).toBe('complete');
    // The server ends the stream after `complete` (text() resolves only at the end).
    const text = await (await agent.fetch(`/build/${id}/events`)).text();
    expect(text.trimEnd()).toMatch(/event: complete\ndata: \{[^\n]*\}$/);
  });

  it('when a client resumes with Last-Event-ID, it gets only the events after that id', async () => {
    const id = await submit('logs:3');
    await waitFinished(agent.fetch, id);
    const all = await followEvents(agent.url, id);
    const rest = await followEvents(agent.url, id, { lastEventId: '4' });
    expect(rest.map((e) => e.id)).toEqual(all.filter((e) => Number(e.id) > 4).map((e) => e.id));
  });

  it('when a failed job completes, the complete event says ok false with the error type', async () => {
    const id = await submit('fail');
    const got = await followEvents(agent.url, id);
    expect(got.at(-1)!.data).toMatchObject({ ok: false, error_type: 'build_failed' });
  });

  it('when the stream is idle, it sends keep-alive comments', async () => {
    const id = await submit('hold');
    await waitFor(() => executor.holding().includes(id));
    const ctl = new AbortController();
    const res = await agent.fetch(`/build/${id}/events`, { signal: ctl.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes(': keep-alive')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    ctl.abort();
    executor.release(id);
    await waitFinished(agent.fetch, id);
    expect(text).toContain(': keep-alive\n\n');
    expect(text).toMatch(/^id: 1\nevent: queued\ndata: \{.*\}\n\n/m);
  });

  it('when 20 clients follow one job, each gets every event', async () => {
    const id = await submit('hold');
    const followers = Array.from({ length: 20 }, () => followEvents(agent.url, id));
    await waitFor(() => executor.holding().includes(id));
    executor.release(id);
    const all = await Promise.all(followers);
    const ids = all[0]!.map((e) => e.id);
    expect(ids.length).toBeGreaterThan(5);
    for (const got of all) expect(got.map((e) => e.id)).toEqual(ids);
  });

  it('when Last-Event-ID is not a number, it answers 400 naming it', async () => {
    const id = await submit('ok');
    const res = await agent.fetch(`/build/${id}/events`, { headers: { 'Last-Event-ID': 'abc' } });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: { field: 'Last-Event-ID' } });
  });
});
