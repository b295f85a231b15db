import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { LaunchResult, StopResult } from '../../src/ec2/index.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import { runEc2 } from '../../src/ec2/index.js';
import { AwsFault, text } from '../support/aws/aws-query.js';
import type { Ec2World } from '../support/aws/ec2-world.js';
import { REPO, SUBNETS, startEc2World } from '../support/aws/ec2-world.js';

let w: Ec2World;
beforeAll(async () => {
  w = await startEc2World();
});
afterAll(async () => {
  await w.stop();
});
afterEach(() => {
  w.ec2.noCapacity.clear();
  w.ec2.calls.length = 0;
  w.useCredentials();
});

const runnersLeft = (): string[] => w.gh.runners.of(REPO).map((r) => r.name);

async function launchFails(
  options: Record<string, string>,
): Promise<{ code: string; path?: string }> {
  const before = runnersLeft().length;
  try {
    await w.run('launch', options);
  } catch (e) {
    // A launch that fails leaves no runner registration behind.
    expect(runnersLeft()).toHaveLength(before);
    return e as { code: string; path?: string };
  }
  throw new Error('launch did not fail');
}

describe('when the first availability zone has no capacity', () => {
  it('launches in the next subnet, without retrying the full zone in place', async () => {
    w.ec2.noCapacity.add('m6i.2xlarge@us-east-1a');
    const r = (await w.run('launch', w.launchOptions())).result as LaunchResult;
    expect(r.subnetId).toBe(SUBNETS[1]);
    expect(r.availabilityZone).toBe('us-east-1b');
    expect(r.attempts).toEqual([
      {
        instanceType: 'm6i.2xlarge',
        subnetId: SUBNETS[0],
        market: 'on-demand',
        code: 'InsufficientInstanceCapacity',
      },
    ]);
    const runs = w.ec2.callsOf('RunInstances');
    expect(runs.map((c) => [text(c.params, 'SubnetId'), c.status])).toEqual([
      [SUBNETS[0], 500],
      [SUBNETS[1], 200],
    ]);
  });

  it('moves to the next instance type when no zone has the first', async () => {
    for (const az of ['a', 'b', 'c']) w.ec2.noCapacity.add(`m6i.2xlarge@us-east-1${az}`);
    const r = (await w.run('launch', w.launchOptions())).result as LaunchResult;
    expect(r.instanceType).toBe('m6a.2xlarge');
    expect(r.subnetId).toBe(SUBNETS[0]);
    expect(r.attempts).toHaveLength(3);
  });

  it('falls back from spot to on-demand in the same zone', async () => {
    w.ec2.noCapacity.add('spot:m6i.2xlarge@us-east-1a');
    const r = (await w.run('launch', w.launchOptions({ spot: 'true' }))).result as LaunchResult;
    expect(r.market).toBe('on-demand');
    expect(r.subnetId).toBe(SUBNETS[0]);
    const markets = w.ec2
      .callsOf('RunInstances')
      .map((c) => text(c.params, 'InstanceMarketOptions.MarketType') ?? 'on-demand');
    expect(markets).toEqual(['spot', 'on-demand']);
  });

  it('refuses with NO_CAPACITY when nothing anywhere has capacity, and removes the runner it registered', async () => {
    for (const az of ['a', 'b', 'c']) w.ec2.noCapacity.add(`*@us-east-1${az}`);
    const e = await launchFails(w.launchOptions({ 'instance-types': 'm6i.2xlarge,m5.2xlarge' }));
    expect(e.code).toBe('NO_CAPACITY');
    expect(w.ec2.callsOf('RunInstances')).toHaveLength(6);
  });
});

describe('when EC2 throttles', () => {
  it('retries with backoff under the same client token and launches once', async () => {
    w.ec2.throttle('RunInstances', 2);
    const r = (await w.run('launch', w.launchOptions())).result as LaunchResult;
    const runs = w.ec2.callsOf('RunInstances');
    expect(runs.map((c) => c.status)).toEqual([503, 503, 200]);
    expect(new Set(runs.map((c) => text(c.params, 'ClientToken'))).size).toBe(1);
    expect(
      [...w.ec2.instances.values()].filter((i) => i.tags.get('tee-compile:label') === r.label),
    ).toHaveLength(1);
  });

  it('gives up with THROTTLED when it does not stop', async () => {
    w.ec2.throttle('RunInstances', 100);
    const e = await launchFails(w.launchOptions());
    expect(e.code).toBe('THROTTLED');
    w.ec2.throttle('RunInstances', 0);
  });
});

describe('when credentials are missing or denied', () => {
  it('says no credentials were found', async () => {
    w.useCredentials(null);
    expect((await launchFails(w.launchOptions())).code).toBe('CREDENTIALS_MISSING');
  });

  it('names the EC2 permission AWS refused', async () => {
    w.useCredentials(w.ec2.principal(['ec2:RunInstances']));
    expect(await launchFails(w.launchOptions())).toMatchObject({
      code: 'PERMISSION_DENIED',
      path: 'ec2:RunInstances',
    });
  });

  it('names the IAM permission needed to print the builder role', async () => {
    w.useCredentials(w.ec2.principal(['iam:GetInstanceProfile']));
    expect(await launchFails(w.launchOptions())).toMatchObject({
      code: 'PERMISSION_DENIED',
      path: 'iam:GetInstanceProfile',
    });
  });

  it('names the permission stop and sweep need', async () => {
    const r = (await w.run('launch', w.launchOptions())).result as LaunchResult;
    w.useCredentials(w.ec2.principal(['ec2:TerminateInstances']));
    await expect(w.run('stop', { 'instance-id': r.instanceId })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      path: 'ec2:TerminateInstances',
    });
    w.useCredentials(w.ec2.principal(['ec2:DescribeInstances']));
    await expect(w.run('sweep', {})).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      path: 'ec2:DescribeInstances',
    });
  });

  it('refuses without a region', async () => {
    delete process.env.AWS_REGION;
    expect((await launchFails(w.launchOptions())).code).toBe('REGION_MISSING');
  });
});

describe('when EC2 refuses a parameter', () => {
  it('reports AWS_REQUEST_FAILED with the AWS code and does not try elsewhere', async () => {
    w.ec2.inject(
      'RunInstances',
      new AwsFault(
        400,
        'InvalidParameterValue',
        'Value (ami-0123456789abcdef0) for parameter imageId is invalid.',
      ),
    );
    const e = await launchFails(w.launchOptions());
    expect(e.code).toBe('AWS_REQUEST_FAILED');
    expect((e as unknown as Error).message).toContain('InvalidParameterValue');
    expect(w.ec2.callsOf('RunInstances')).toHaveLength(1);
  });

  it('refuses instance types without Nitro Enclaves or too small, before RunInstances', async () => {
    const e = await launchFails(w.launchOptions({ 'instance-types': 't3.xlarge,m6i.large' }));
    expect(e).toMatchObject({ code: 'NO_SUITABLE_INSTANCE_TYPE', path: 'instance-types' });
    expect(w.ec2.callsOf('RunInstances')).toHaveLength(0);
  });

  it('passes on an instance type EC2 does not know', async () => {
    expect((await launchFails(w.launchOptions({ 'instance-types': 'm99.huge' }))).code).toBe(
      'AWS_REQUEST_FAILED',
    );
  });
});

describe('when the inputs are not usable', () => {
  it('refuses images that are not published yet', async () => {
    const catalog = await loadImageCatalog();
    await expect(
      runEc2('launch', (n) => w.launchOptions()[n] ?? '', {
        env: process.env,
        catalog: async () => catalog,
        version: '0.1.0',
        now: Date.now,
        log: () => {},
      }),
    ).rejects.toMatchObject({ code: 'IMAGES_NOT_PUBLISHED', path: 'images' });
  });

  it.each([
    ['subnet-ids', { 'subnet-ids': 'subnet-zz' }],
    ['image-id', { 'image-id': '' }],
    ['max-minutes', { 'max-minutes': '5' }],
    ['repository', { repository: 'no-slash' }],
    ['github-token', { 'github-token': '' }],
    ['instance-profile', { 'instance-profile': '' }],
  ])('names the option %s', async (path, over) => {
    expect(await launchFails(w.launchOptions(over))).toMatchObject({
      code: 'OPTION_INVALID',
      path,
    });
  });

  it('names the GitHub permission a token without it lacks, before any instance starts', async () => {
    const weak = w.gh.token({ repo: REPO, contents: 'write' });
    const e = await launchFails(w.launchOptions({ 'github-token': weak }));
    expect(e).toMatchObject({ code: 'GITHUB_FAILED', path: 'github-token' });
    expect((e as unknown as Error).message).toContain('Administration: write');
    expect(w.ec2.callsOf('RunInstances')).toHaveLength(0);
  });
});

describe('when stop meets an instance that is not a builder', () => {
  it('refuses to end an instance without our tags', async () => {
    const foreign = w.ec2.seed({ tags: { Name: 'database' } });
    await expect(w.run('stop', { 'instance-id': foreign.id })).rejects.toMatchObject({
      code: 'INSTANCE_NOT_OURS',
    });
    expect(w.ec2.instances.get(foreign.id)!.state).toBe('running');
  });

  it('takes an instance that no longer exists as stopped, and still removes the runner by label', async () => {
    const r = (await w.run('launch', w.launchOptions())).result as LaunchResult;
    w.ec2.instances.delete(r.instanceId);
    const s = (
      await w.run('stop', {
        'instance-id': r.instanceId,
        label: r.label,
        repository: REPO,
        'github-token': w.token,
        'github-api-url': w.gh.apiUrl,
      })
    ).result as StopResult;
    expect(s).toMatchObject({ instance: 'already-gone', runner: 'removed' });
  });
});
