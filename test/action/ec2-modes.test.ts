/**
 * The action's EC2 modes as a runner runs them: `node dist/index.js` with `INPUT_*`, the standard
 * AWS variables and `GITHUB_OUTPUT`, against the EC2 and GitHub stand-ins. The modes' logic is
 * tested in test/ec2; this checks the action's plumbing (inputs in, outputs and failures out).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, inputVar, parseOutputFile } from '../support/action/action-runner.js';
import type { Ec2World } from '../support/aws/ec2-world.js';
import { REPO, startEc2World } from '../support/aws/ec2-world.js';

let w: Ec2World;
let dir: string;
beforeAll(async () => {
  w = await startEc2World();
  dir = mkdtempSync(join(tmpdir(), 'tc-ec2-action-'));
});
afterAll(async () => {
  await w.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Step {
  code: number | null;
  outputs: Record<string, string>;
  errors: string[];
}

/** Runs the bundled action once with these inputs, as the runner would. */
function step(inputs: Record<string, string>): Promise<Step> {
  const out = join(dir, `output-${Math.random().toString(36).slice(2)}`);
  writeFileSync(out, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: REPO,
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_OUTPUT: out,
    NO_PROXY: '127.0.0.1,localhost',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...w.ec2.env(w.principal),
  };
  for (const [k, v] of Object.entries(inputs)) env[inputVar(k)] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        outputs: parseOutputFile(readFileSync(out, 'utf8')),
        errors: stdout
          .split('\n')
          .filter((l) => l.startsWith('::error'))
          .map((l) => l.slice(l.indexOf('::', 2) + 2)),
      }),
    );
  });
}

const gh = (): Record<string, string> => ({
  'github-token': w.token,
  'github-api-url': w.gh.apiUrl,
});
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const ours = (label: string, expiresAt: number): Record<string, string> => ({
  Name: label,
  'tee-compile:repository': REPO,
  'tee-compile:run': `${REPO}/1/1`,
  'tee-compile:expires-at': iso(expiresAt),
  'tee-compile:label': label,
});

describe('the action in its EC2 modes', () => {
  it('when mode is sweep, it ends the expired builder and no other instance, and sets its outputs', async () => {
    const expired = w.ec2.seed({ tags: ours('tee-compile-0000000000000ae1', Date.now() - 60_000) });
    const foreign = w.ec2.seed({ tags: { Name: 'database' } });
    const r = await step({ mode: 'sweep', ...gh() });
    expect(r.code).toBe(0);
    expect(r.outputs.terminated).toBe(expired.id);
    expect(['shutting-down', 'terminated']).toContain(w.ec2.instances.get(expired.id)!.state);
    expect(w.ec2.instances.get(foreign.id)!.state).toBe('running');
  });

  it('when mode is stop, it ends the builder, and a second stop of the same one succeeds too', async () => {
    const live = w.ec2.seed({ tags: ours('tee-compile-0000000000000ab1', Date.now() + 3_600_000) });
    const first = await step({ mode: 'stop', 'instance-id': live.id, ...gh() });
    expect(first.code).toBe(0);
    expect(first.outputs['instance-id']).toBe(live.id);
    expect(['shutting-down', 'terminated']).toContain(w.ec2.instances.get(live.id)!.state);
    const again = await step({ mode: 'stop', 'instance-id': live.id, ...gh() });
    expect(again.code).toBe(0);
  });

  it('when mode is stop on an instance without our tags, the step fails with INSTANCE_NOT_OURS and the instance lives', async () => {
    const foreign = w.ec2.seed({ tags: { Name: 'web' } });
    const r = await step({ mode: 'stop', 'instance-id': foreign.id, ...gh() });
    expect(r.code).toBe(1);
    expect(r.outputs.code).toBe('INSTANCE_NOT_OURS');
    expect(w.ec2.instances.get(foreign.id)!.state).toBe('running');
  });

  it('when mode is launch and the shipped images have no published EIF, the step fails with IMAGES_NOT_PUBLISHED before any instance starts', async () => {
    const before = w.ec2.callsOf('RunInstances').length;
    const r = await step({ mode: 'launch', ...w.launchOptions() });
    expect(r.code).toBe(1);
    expect(r.outputs.code).toBe('IMAGES_NOT_PUBLISHED');
    expect(w.ec2.callsOf('RunInstances')).toHaveLength(before);
  });
});
