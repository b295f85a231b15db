/**
 * `runBuild`, the library call behind `tee-compile build` and the agent: typed progress events,
 * and a worker killed mid-build reported by the client (ENCLAVE_EXITED) and by the backend.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildEvent } from '../../src/client/run-build.js';
import { runBuild } from '../../src/client/run-build.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import type { LocalBackend } from '../../src/enclave/local.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { keepingStarted, sandboxBackend } from '../support/processes/sandbox-worker.js';

let work: string;
let backend: LocalBackend;
const repos: TestRepo[] = [];
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-run-'));
  backend = await sandboxBackend();
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

/** SIGKILLs the worker process of enclave `id` (found by its command line). */
async function killWorker(id: string): Promise<void> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[0]?.endsWith('node') && argv.includes('--enclave-id') && argv.includes(id)) {
      process.kill(Number(pid), 'SIGKILL');
      return;
    }
  }
  throw new Error(`no worker for ${id}`);
}

describe('runBuild', () => {
  it('when a build succeeds, it reports typed events in order and returns the bundle and its subjects', async () => {
    const r = await makeRepo(goProject('echo one; echo two > out.txt'));
    repos.push(r);
    const events: BuildEvent[] = [];
    const res = await runBuild({
      dir: r.dir,
      out: join(work, 'ok.tar.gz'),
      backend,
      catalog: await loadImageCatalog(),
      cacheDir: join(work, 'cache'),
      onEvent: (e) => events.push(e),
    });
    const kinds = [...new Set(events.map((e) => e.type))];
    expect(kinds.slice(0, 3)).toEqual(['enclave', 'prepared', 'connected']);
    expect(kinds).toEqual(expect.arrayContaining(['inputs-sent', 'phase', 'log', 'result']));
    expect(kinds.at(-1)).toBe('result');
    // The worker's phases, in order (the client's own events interleave with them).
    const phases = events.flatMap((e) => (e.type === 'phase' ? [e.phase] : []));
    expect(phases).toEqual([
      'receiving',
      'verifying-source',
      'verifying-dependencies',
      'building',
      'collecting-outputs',
      'attesting',
      'sending',
    ]);
    expect(events.findIndex((e) => e.type === 'log')).toBeGreaterThan(
      events.findIndex((e) => e.type === 'phase' && e.phase === 'building'),
    );
    expect(res.subjects.map((s) => s.name)).toEqual(['out.txt']);
    expect(res.source.commit).toBe(r.commit);
    expect(res.nonce).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when the worker is killed mid-build, the client reports ENCLAVE_EXITED and the backend the kill', async () => {
    const r = await makeRepo(goProject('echo started; sleep 60; echo done > out.txt'));
    repos.push(r);
    const spying = keepingStarted(backend);
    const err = await runBuild({
      dir: r.dir,
      out: join(work, 'killed.tar.gz'),
      backend: spying.backend,
      catalog: await loadImageCatalog(),
      cacheDir: join(work, 'cache'),
      onEvent: (e) => {
        const enclave = spying.started();
        if (e.type === 'log' && e.lines.includes('started') && enclave) void killWorker(enclave.id);
      },
    }).catch((e: unknown) => e);
    expect(err).toHaveCode('ENCLAVE_EXITED');
    expect((err as Error).message).toMatch(
      /the worker was killed \(SIGKILL\).*closed the connection before the end/,
    );
    await expect(spying.started()!.exited).resolves.toMatchObject({
      state: 'failed',
      reason: 'killed',
      exitCode: 137,
    });
  });
});
