/**
 * Event ids across restarts: a log's ids are reserved on disk ahead of delivery, so events lost
 * from the file by a crash (written without an fsync each) never have their ids given again; a
 * log closed in order gives the unused reservation back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventHub } from '../../src/agent/event-hub.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { EVENT_ID_BLOCK, JobEvents, readReservation } from '../../src/agent/events.js';
import { silentLogger } from '../../src/agent/log.js';
import { removeDir, tempDir } from '../support/agent/agent-harness.js';

let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('tc-agent-event-ids-');
});
afterAll(async () => {
  await removeDir(dir);
});

/** A fresh job directory's event file. */
async function eventsFile(): Promise<string> {
  const jobDir = join(dir, `job-${++n}`);
  await mkdir(jobDir);
  return join(jobDir, 'events.jsonl');
}

/** Follows a hub's job from `afterId` until `complete`. */
function collect(hub: EventHub, id: string, afterId = 0): Promise<AgentEvent[]> {
  const got: AgentEvent[] = [];
  return new Promise((resolve) => {
    void hub.follow(
      id,
      afterId,
      (e) => {
        got.push(e);
      },
      () => resolve(got),
    );
  });
}

describe('agent event ids', () => {
  it('when the agent dies with events missing from the file, the next life gives the complete an id no client saw', async () => {
    const file = await eventsFile();
    const first = new EventHub(() => file, silentLogger);
    await first.open('job');
    const seen: AgentEvent[] = [];
    void first.follow(
      'job',
      0,
      (e) => {
        seen.push(e);
      },
      () => undefined,
    );
    first.emit('job', 'queued', { position: 0 });
    first.emit('job', 'started', {});
    for (let i = 0; i < 5; i++) first.emit('job', 'log', { stream: 'build', text: `line ${i}` });
    expect(seen.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // `kill -9`: the log is never closed, and the writes still in the process are lost. Here
    // everything after the first event is.
    await new Promise((r) => setTimeout(r, 50));
    const lines = (await readFile(file, 'utf8')).split('\n');
    await writeFile(file, lines[0] + '\n');
    expect(await readReservation(file)).toBeGreaterThanOrEqual(7);

    const second = new EventHub(() => file, silentLogger);
    await second.complete('job', { ok: false, error_type: 'agent_restarted' });
    const after = await collect(second, 'job', 7);
    expect(after.map((e) => e.event)).toEqual(['complete']);
    expect(after[0]!.id).toBeGreaterThan(7);
    expect(after[0]!.id).toBeGreaterThan(EVENT_ID_BLOCK);
    // The whole file: the one event that survived, then the complete, ids increasing.
    expect((await collect(second, 'job')).map((e) => e.id)).toEqual([1, after[0]!.id]);
  });

  it('when a log is closed in order, the next life goes on right after its last id', async () => {
    const file = await eventsFile();
    const first = new EventHub(() => file, silentLogger);
    await first.open('job');
    first.emit('job', 'queued', { position: 0 });
    await first.closeAll();
    expect(await readReservation(file)).toBe(1);
    const second = new EventHub(() => file, silentLogger);
    await second.open('job', true);
    second.emit('job', 'started', {});
    await second.complete('job', { ok: true });
    expect((await collect(second, 'job')).map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it('when events outrun the reservation, each is delivered once and in order after its id is reserved', async () => {
    const file = await eventsFile();
    const log = new JobEvents(file);
    await log.ready();
    const early: number[] = [];
    log.subscribe(
      0,
      (e) => early.push(e.id),
      () => undefined,
    );
    const total = 3 * EVENT_ID_BLOCK + 7;
    for (let i = 0; i < total; i++) log.emit('log', { stream: 'build', text: 'x' });
    // Only what the first reservation covers is out at once.
    expect(early.length).toBeLessThanOrEqual(EVENT_ID_BLOCK);
    // A subscriber arriving now gets the delivered backlog, then the rest, without repeats.
    const late: number[] = [];
    log.subscribe(
      0,
      (e) => late.push(e.id),
      () => undefined,
    );
    log.emit('complete', { ok: true });
    await log.close();
    const ids = Array.from({ length: total + 1 }, (_x, i) => i + 1);
    expect(early).toEqual(ids);
    expect(late).toEqual(ids);
    expect(await readReservation(file)).toBe(total + 1);
  });
});
