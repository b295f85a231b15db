import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LaunchResult, StopResult } from '../../src/ec2/index.js';
import { text, members } from '../support/aws/aws-query.js';
import type { QueryNode } from '../support/aws/aws-query.js';
import type { Ec2World } from '../support/aws/ec2-world.js';
import { REPO, SUBNETS, startEc2World } from '../support/aws/ec2-world.js';

let w: Ec2World;
beforeAll(async () => {
  w = await startEc2World();
});
afterAll(async () => {
  await w.stop();
});

function tagsOf(spec: QueryNode): Record<string, string> {
  return Object.fromEntries(members(spec, 'Tag').map((t) => [text(t, 'Key')!, text(t, 'Value')!]));
}

describe('when a builder is launched and stopped', () => {
  it('starts one enclave-enabled, IMDSv2-only, self-terminating instance with our tags, and stop ends it and its runner', async () => {
    const before = Date.now();
    const out = await w.run('launch', w.launchOptions());
    expect(out.mode).toBe('launch');
    const r = out.result as LaunchResult;
    expect(r.label).toMatch(/^tee-compile-[0-9a-f]{16}$/);
    expect(out.outputs).toMatchObject({
      label: r.label,
      'instance-id': r.instanceId,
      region: 'us-east-1',
    });
    expect(r.roleArn).toBe('arn:aws:iam::123456789012:role/tee-compile-builder');
    expect(r.pcr3).toMatch(/^[0-9a-f]{96}$/);

    const runs = w.ec2.callsOf('RunInstances');
    expect(runs).toHaveLength(1);
    const p = runs[0]!.params;
    expect(text(p, 'InstanceType')).toBe('m6i.2xlarge');
    expect(text(p, 'ImageId')).toBe('ami-0123456789abcdef0');
    expect(text(p, 'SubnetId')).toBe(SUBNETS[0]);
    expect(text(p, 'MinCount')).toBe('1');
    expect(text(p, 'MaxCount')).toBe('1');
    expect(text(p, 'EnclaveOptions.Enabled')).toBe('true');
    expect(text(p, 'MetadataOptions.HttpTokens')).toBe('required');
    expect(text(p, 'MetadataOptions.HttpPutResponseHopLimit')).toBe('1');
    expect(text(p, 'InstanceInitiatedShutdownBehavior')).toBe('terminate');
    expect(text(p, 'IamInstanceProfile.Name')).toBe('tee-compile-builder');
    expect(text(p, 'InstanceMarketOptions.MarketType')).toBeUndefined();
    const specs = members(p, 'TagSpecification') as QueryNode[];
    expect(specs.map((s) => text(s, 'ResourceType')).sort()).toEqual(['instance', 'volume']);
    for (const s of specs) {
      const tags = tagsOf(s);
      expect(tags['tee-compile:repository']).toBe(REPO);
      expect(tags['tee-compile:run']).toBe(`${REPO}/4242/1`);
      expect(tags['tee-compile:label']).toBe(r.label);
      const expires = Date.parse(tags['tee-compile:expires-at']!);
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 60 * 60_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 60 * 60_000);
    }
    const inst = w.ec2.instances.get(r.instanceId)!;
    expect(inst.volumeTags.get('tee-compile:label')).toBe(r.label);
    // The user data arms the time limit and carries the JIT configuration, never a token.
    expect(inst.userData).toContain('MAX_MINUTES=60\n');
    expect(inst.userData).toContain('shutdown -h "+$MAX_MINUTES"');
    expect(inst.userData).not.toContain(w.token);
    expect(inst.userData).toMatch(/ACTIONS_RUNNER_INPUT_JITCONFIG=[A-Za-z0-9+/=]+\n/);
    // The runner was registered just in time under the label.
    const runner = w.gh.runners.of(REPO).find((x) => x.name === r.label)!;
    expect(runner.labels).toEqual([r.label]);
    expect(runner.id).toBe(r.runnerId);

    const stopped = await w.run('stop', {
      'instance-id': r.instanceId,
      repository: REPO,
      'github-token': w.token,
      'github-api-url': w.gh.apiUrl,
    });
    const s = stopped.result as StopResult;
    expect(s).toMatchObject({ instance: 'terminated', runner: 'removed', label: r.label });
    expect(['shutting-down', 'terminated']).toContain(w.ec2.instances.get(r.instanceId)!.state);
    expect(w.gh.runners.of(REPO).some((x) => x.name === r.label)).toBe(false);

    // Twice is fine: the instance is gone, and so is the runner.
    const again = (
      await w.run('stop', {
        'instance-id': r.instanceId,
        repository: REPO,
        'github-token': w.token,
        'github-api-url': w.gh.apiUrl,
      })
    ).result as StopResult;
    expect(again).toMatchObject({ instance: 'already-gone', runner: 'absent' });
  });
});
