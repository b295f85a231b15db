/** The bounded parallel loop of dependency sets: what runs after a failure, and when it is thrown. */
import { describe, expect, it } from '@jest/globals';
import { eachLimited } from '../../src/provenance/depset/download.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('eachLimited', () => {
  it('when all succeed, every item runs once with at most `limit` at a time', async () => {
    const seen: number[] = [];
    let running = 0;
    let most = 0;
    await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      running++;
      most = Math.max(most, running);
      await tick();
      seen.push(n);
      running--;
    });
    expect(seen.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('when one fails, no further item starts and the failure is thrown after the running ones end', async () => {
    const started: number[] = [];
    const ended: number[] = [];
    const failure = new Error('item 1 failed');
    const err = await eachLimited([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      if (n === 1) throw failure;
      await tick();
      await tick();
      ended.push(n);
    }).catch((e: unknown) => e);
    expect(err).toBe(failure);
    // Item 2 was running when 1 failed: it ended before the failure was thrown; nothing after it began.
    expect(started).toEqual([1, 2]);
    expect(ended).toEqual([2]);
  });
});
