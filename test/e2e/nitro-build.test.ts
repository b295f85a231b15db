/**
 * The whole nitro path on a stand-in Nitro host: `runBuild` with the backend made by the factory
 * starts an enclave with nitro-cli, reaches its worker through the vsock bridge, builds a real
 * example project, gets the bundle attested with the EIF's own measurements, and the bundle
 * verifies with `tee-compile verify --allow-simulated`. Whatever ends the build (success, a failed
 * build, a cancel), the enclave is terminated.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pcr3ForIamRole } from '../../src/attestation/index.js';
import { runBuild } from '../../src/client/run-build.js';
import type { BuildEvent } from '../../src/client/run-build.js';
import { describeEifFile } from '../../src/eif/node.js';
import { createBackend } from '../../src/enclave/backends.js';
import type { EnclaveBackend } from '../../src/enclave/types.js';
import { toHex } from '../../src/util/hex.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { exampleRepo, goProject, makeRepo } from '../support/source/build-repo.js';
import { runCli } from '../support/cli/cli.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { STANDIN_ROLE, createStandinHost } from '../support/nitro/nitro-standin.js';

let host: StandinHost;
let backend: EnclaveBackend;
let out: string;
const repos: TestRepo[] = [];

beforeAll(async () => {
  host = await createStandinHost();
  backend = createBackend('nitro', {
    catalog: host.catalog,
    nitro: host.backendConfig({ owner: 'e2e' }),
  });
  out = await mkdtemp(join(tmpdir(), 'tc-nitro-out-'));
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await host.remove();
  await rm(out, { recursive: true, force: true });
});

/** How often terminate-enclave was called with `id`. */
const terminations = (id: string): number =>
  host.calls().filter((c) => c.argv[0] === 'terminate-enclave' && c.argv.includes(id)).length;

/** The enclave ids the build's events named. */
function enclaveIds(events: BuildEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'enclave' && e.id !== undefined ? [e.id] : []));
}

describe('nitro builds end to end', () => {
  it('when an example project is built, the bundle is attested with the EIF’s PCRs, verifies, and the enclave is gone', async () => {
    const repo = await exampleRepo('go-hello');
    repos.push(repo);
    const buildId = randomUUID();
    const bundle = join(out, 'go-hello.bundle.tar.gz');
    const events: BuildEvent[] = [];
    const result = await runBuild({
      dir: repo.dir,
      out: bundle,
      backend,
      catalog: host.catalog,
      buildId,
      onEvent: (e) => events.push(e),
    });

    const argv = host.runCalls().at(-1)!;
    expect(argv).toEqual([
      'run-enclave',
      '--eif-path',
      host.eifs['go'],
      '--cpu-count',
      '2',
      '--memory',
      expect.stringMatching(/^\d+$/),
      '--enclave-cid',
      expect.stringMatching(/^\d+$/),
      '--enclave-name',
      `tee-compile-e2e-${buildId}`,
    ]);
    // The build's 4096 MiB, 4 × the EIF and the inputs, in whole 2 MiB pages.
    const memory = Number(argv[argv.indexOf('--memory') + 1]);
    expect(memory).toBeGreaterThan(4096);
    expect(memory % 2).toBe(0);
    expect(result.isolation.backend).toBe('nitro');
    const eif = (await describeEifFile(host.eifs['go']!)).measurements;
    expect(result.image).toMatchObject({ pcr0: eif.pcr0, pcr1: eif.pcr1, pcr2: eif.pcr2 });
    expect(result.builderPcr3).toBe(toHex(pcr3ForIamRole(STANDIN_ROLE)));
    expect(result.subjects.map((s) => s.name)).toEqual(['examples/go-hello/bin/go-hello']);

    const verified = await runCli(['verify', bundle, '--allow-simulated']);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('verdict: VERIFIED');
    const refused = await runCli(['verify', bundle]);
    expect(refused.code).not.toBe(0);

    const [id] = enclaveIds(events);
    expect(host.enclaves()).toEqual([]);
    // Terminated by id after the session, unless its worker had already ended it.
    expect(terminations(id!)).toBeLessThanOrEqual(1);
  });

  it('when the build command fails, the refusal comes back and the enclave is terminated', async () => {
    const repo = await makeRepo(goProject('echo failing on purpose; exit 3'));
    repos.push(repo);
    const events: BuildEvent[] = [];
    const err = await runBuild({
      dir: repo.dir,
      out: join(out, 'failed.tar.gz'),
      backend,
      catalog: host.catalog,
      onEvent: (e) => events.push(e),
    }).catch((e: unknown) => e);
    expect(err).toHaveCode('BUILD_FAILED');
    const [id] = enclaveIds(events);
    expect(id).toBeDefined();
    expect(host.enclaves()).toEqual([]);
  });

  it('when the build is cancelled while it runs, the enclave is terminated', async () => {
    const repo = await makeRepo(goProject('sleep 120'));
    repos.push(repo);
    const abort = new AbortController();
    const events: BuildEvent[] = [];
    const err = await runBuild({
      dir: repo.dir,
      out: join(out, 'cancelled.tar.gz'),
      backend,
      catalog: host.catalog,
      signal: abort.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'phase' && e.phase === 'building') abort.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toHaveCode('PROTOCOL_CANCELLED');
    const [id] = enclaveIds(events);
    expect(host.enclaves()).toEqual([]);
    expect(terminations(id!)).toBeLessThanOrEqual(1);
    expect(host.calls().some((c) => c.argv.includes('--all'))).toBe(false);
  });
});
