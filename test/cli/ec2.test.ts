import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli/cli.js';
import type { Ec2World } from '../support/aws/ec2-world.js';
import { REPO, SUBNETS, startEc2World } from '../support/aws/ec2-world.js';
import { tempDirSync } from '../support/temp.js';

let w: Ec2World;
let catalogFile: string;
beforeAll(async () => {
  w = await startEc2World();
  catalogFile = join(tempDirSync('ec2-cli-'), 'images.json');
  writeFileSync(catalogFile, JSON.stringify(w.catalog));
});
afterAll(async () => {
  await w.stop();
});

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GITHUB_TOKEN: w.token,
  GITHUB_API_URL: w.gh.apiUrl,
  GITHUB_REPOSITORY: REPO,
  GITHUB_RUN_ID: '77',
  GITHUB_RUN_ATTEMPT: '2',
});

describe('when tee-compile ec2 is run', () => {
  it('launches, stops twice and sweeps, printing JSON', async () => {
    const launched = await runCli(
      [
        'ec2',
        'launch',
        '--image-id',
        'ami-0123456789abcdef0',
        '--subnet-ids',
        SUBNETS.join(','),
        '--instance-profile',
        'tee-compile-builder',
        '--images-catalog',
        catalogFile,
        '--json',
      ],
      { env: env() },
    );
    expect(launched.code).toBe(0);
    const l = JSON.parse(launched.stdout) as {
      ok: boolean;
      label: string;
      instanceId: string;
      outputs: Record<string, string>;
    };
    expect(l.ok).toBe(true);
    expect(l.outputs).toMatchObject({
      label: l.label,
      'instance-id': l.instanceId,
      region: 'us-east-1',
    });
    expect(w.ec2.instances.get(l.instanceId)!.tags.get('tee-compile:run')).toBe(`${REPO}/77/2`);
    for (const want of ['terminated', 'already-gone']) {
      const s = await runCli(['ec2', 'stop', '--instance-id', l.instanceId, '--json'], {
        env: env(),
      });
      expect(s.code).toBe(0);
      expect(JSON.parse(s.stdout)).toMatchObject({ ok: true, instance: want });
    }
    const swept = await runCli(['ec2', 'sweep', '--json'], { env: env() });
    expect(swept.code).toBe(0);
    expect(JSON.parse(swept.stdout)).toMatchObject({ ok: true, terminated: [] });
  });

  it('exits 1 with the code as JSON when AWS refuses, and 2 on a bad option', async () => {
    w.useCredentials(w.ec2.principal(['ec2:DescribeInstances']));
    const denied = await runCli(['ec2', 'sweep', '--json'], { env: env() });
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.stdout)).toMatchObject({
      ok: false,
      code: 'PERMISSION_DENIED',
      path: 'ec2:DescribeInstances',
    });
    w.useCredentials();
    const bad = await runCli(['ec2', 'stop', '--instance-id', 'nope'], { env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[OPTION_INVALID]');
    expect((await runCli(['ec2', 'reboot'], { env: env() })).code).toBe(2);
  });
});
