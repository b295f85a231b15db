import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LaunchResult, SweepResult } from '../../src/ec2/index.js';
import { RunnerApi } from '../../src/ec2/runners.js';
import type { Ec2World } from '../support/aws/ec2-world.js';
import { REPO, startEc2World } from '../support/aws/ec2-world.js';

let w: Ec2World;
beforeAll(async () => {
  w = await startEc2World();
});
afterAll(async () => {
  await w.stop();
});

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const gh = (): Record<string, string> => ({
  repository: REPO,
  'github-token': w.token,
  'github-api-url': w.gh.apiUrl,
});

describe('when sweep runs over expired, live and foreign instances', () => {
  it('terminates exactly the three expired builders and removes their offline runners', async () => {
    const now = Date.now();
    const api = new RunnerApi({
      token: w.token,
      apiUrl: w.gh.apiUrl,
      repository: REPO,
      scope: { kind: 'repo', owner: 'example', repo: 'hello' },
    });
    const builder = async (label: string, expiresAt: number) => {
      await api.generateJitConfig(label, 1);
      return w.ec2.seed({
        type: 'm6i.2xlarge',
        tags: {
          Name: label,
          'tee-compile:repository': REPO,
          'tee-compile:run': `${REPO}/1/1`,
          'tee-compile:expires-at': iso(expiresAt),
          'tee-compile:label': label,
        },
      });
    };
    const expired = [
      await builder('tee-compile-00000000000000e1', now - 60_000),
      await builder('tee-compile-00000000000000e2', now - 3_600_000),
      await builder('tee-compile-00000000000000e3', now - 86_400_000),
    ];
    const live = await builder('tee-compile-00000000000000a1', now + 30 * 60_000);
    // Someone else's instance: an expires-at tag of its own, but not ours.
    const foreign = w.ec2.seed({
      tags: { Name: 'ci-cache', 'tee-compile:expires-at': iso(now - 60_000) },
    });
    const untagged = w.ec2.seed({ tags: { Name: 'database' } });

    const out = await w.run('sweep', gh(), { now });
    const r = out.result as SweepResult;
    expect(r.terminated.map((t) => t.instanceId).sort()).toEqual(expired.map((i) => i.id).sort());
    expect(r.live.map((t) => t.instanceId)).toEqual([live.id]);
    for (const i of expired)
      expect(['shutting-down', 'terminated']).toContain(w.ec2.instances.get(i.id)!.state);
    for (const i of [live, foreign, untagged])
      expect(w.ec2.instances.get(i.id)!.state).toBe('running');
    const terminateCalls = w.ec2.callsOf('TerminateInstances');
    expect(terminateCalls).toHaveLength(1);
    // The live builder's runner is offline while it boots: it stays.
    expect(r.runnersRemoved.sort()).toEqual([
      'tee-compile-00000000000000e1',
      'tee-compile-00000000000000e2',
      'tee-compile-00000000000000e3',
    ]);
    expect(w.gh.runners.of(REPO).map((x) => x.name)).toEqual(['tee-compile-00000000000000a1']);
    expect(out.outputs.terminated!.split(',').sort()).toEqual(expired.map((i) => i.id).sort());

    // A second sweep finds nothing more to do.
    const again = (await w.run('sweep', gh(), { now })).result as SweepResult;
    expect(again.terminated).toEqual([]);
    expect(again.runnersRemoved).toEqual([]);
  });
});

describe('when a workflow is cancelled between launch and stop', () => {
  it('leaves the builder running until it expires, then sweep ends it and its runner; a foreign instance survives', async () => {
    const foreign = w.ec2.seed({ tags: { Name: 'web' } });
    const r = (await w.run('launch', w.launchOptions({ 'max-minutes': '30' })))
      .result as LaunchResult;
    // No stop step ran. Before the expiry, sweep keeps it.
    const early = (await w.run('sweep', gh())).result as SweepResult;
    expect(early.terminated.map((t) => t.instanceId)).not.toContain(r.instanceId);
    expect(w.gh.runners.of(REPO).some((x) => x.name === r.label)).toBe(true);
    // After it.
    const later = (await w.run('sweep', gh(), { now: Date.parse(r.expiresAt) + 1000 }))
      .result as SweepResult;
    // (The first test's live builder has expired by then too.)
    expect(later.terminated.map((t) => t.instanceId)).toContain(r.instanceId);
    expect(later.runnersRemoved).toContain(r.label);
    expect(w.gh.runners.of(REPO).some((x) => x.name === r.label)).toBe(false);
    expect(w.ec2.instances.get(foreign.id)!.state).toBe('running');
  });
});
