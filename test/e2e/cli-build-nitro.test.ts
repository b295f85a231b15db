/**
 * `tee-compile build --backend nitro` on a stand-in Nitro host: the command reads the nitro
 * settings file, builds through nitro-cli and the vsock bridge, and the bundle verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestRepo } from '../support/source/build-repo.js';
import { exampleRepo } from '../support/source/build-repo.js';
import { runCli } from '../support/cli/cli.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';

let host: StandinHost;
let dir: string;
let repo: TestRepo;
let nitroConfig: string;
let images: string;

beforeAll(async () => {
  host = await createStandinHost();
  dir = await mkdtemp(join(tmpdir(), 'tc-cli-nitro-'));
  repo = await exampleRepo('go-hello');
  nitroConfig = join(dir, 'nitro.json');
  await writeFile(nitroConfig, JSON.stringify(host.backendConfig({ owner: 'cli' })));
  images = join(dir, 'images.json');
  await writeFile(images, JSON.stringify(host.catalog));
});
afterAll(async () => {
  await repo.remove();
  await host.remove();
  await rm(dir, { recursive: true, force: true });
});

describe('tee-compile build --backend nitro', () => {
  it('when given nitro settings, it builds in an enclave started by nitro-cli and the bundle verifies', async () => {
    const out = join(dir, 'go.bundle.tar.gz');
    const nonce = 'ab'.repeat(32);
    const r = await runCli([
      'build',
      repo.dir,
      '--backend',
      'nitro',
      '--nitro-config',
      nitroConfig,
      '--images',
      images,
      '--nonce',
      nonce,
      '--out',
      out,
      '--json',
    ]);
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { simulated: boolean; isolation: { backend: string } };
    expect(result.isolation.backend).toBe('nitro');
    // The stand-in's worker attests with the software NSM: the evidence says so, not the backend.
    expect(result.simulated).toBe(true);
    expect(host.runCalls()).toHaveLength(1);
    expect(host.enclaves()).toEqual([]);
    const v = await runCli([
      'verify',
      out,
      '--allow-simulated',
      '--nonce',
      nonce,
      '--commit',
      repo.commit,
    ]);
    expect(v.code).toBe(0);
  });

  it('when --backend nitro has no settings file, or a bad one, it is a usage error naming what is wrong', async () => {
    const none = await runCli(['build', repo.dir, '--backend', 'nitro']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--nitro-config');
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ imagesDir: dir, cidRange: 'lots' }));
    const invalid = await runCli(['build', repo.dir, '--backend', 'nitro', '--nitro-config', bad]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/cidRange/);
  });

  it('when the backend is missing, unknown or contradicts --local, it is a usage error', async () => {
    expect((await runCli(['build', repo.dir])).stderr).toContain('choose where to build');
    expect((await runCli(['build', repo.dir, '--backend', 'qemu'])).code).toBe(2);
    const both = await runCli(['build', repo.dir, '--local', '--backend', 'nitro']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('contradict');
    const stray = await runCli(['build', repo.dir, '--local', '--nitro-config', nitroConfig]);
    expect(stray.stderr).toContain('--backend nitro only');
  });
});
