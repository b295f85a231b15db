/**
 * `runBuild` before the session: the local enclave's own steps come before the inputs'
 * preparation, which then overlaps its worker's start; while the inputs are prepared and while
 * the enclave boots, a cancel ends the call at once (PROTOCOL_CANCELLED) with the enclave
 * stopped; and the nitro backend's enclave is sized from the prepared inputs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { BuildEvent } from '../../src/client/run-build.js';
import { DEFAULT_MEMORY_MIB, runBuild } from '../../src/client/run-build.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import type { LocalBackend } from '../../src/enclave/local.js';
import { NitroBackend } from '../../src/enclave/nitro.js';
import { minimumMemoryForEif } from '../../src/enclave/nitro-sizing.js';
import { EnclaveError } from '../../src/enclave/errors.js';
import type { Enclave, EnclaveSpec } from '../../src/enclave/types.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';
import { keepingStarted, sandboxBackend } from '../support/processes/sandbox-worker.js';

let work: string;
let backend: LocalBackend;
const repos: TestRepo[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-run-cancel-'));
  backend = await sandboxBackend();
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

async function repo(cmd: string): Promise<TestRepo> {
  const r = await makeRepo(goProject(cmd));
  repos.push(r);
  return r;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An environment whose `git` runs the shell lines `before`, then the real git: a folder of its own
 * (`name`) first on the PATH.
 */
async function wrappedGit(name: string, before: string): Promise<NodeJS.ProcessEnv> {
  const bin = join(work, `${name}-bin`);
  await mkdir(bin, { recursive: true });
  await writeFile(
    join(bin, 'git'),
    `#!/bin/sh\n${before}PATH=${JSON.stringify(process.env.PATH ?? '')}\nexport PATH\nexec git "$@"\n`,
  );
  await chmod(join(bin, 'git'), 0o755);
  return { ...process.env, PATH: [bin, process.env.PATH ?? ''].join(delimiter) };
}

describe('runBuild order (local backend)', () => {
  /** A git that notes it was asked, then runs the real one. */
  async function notingGit(name: string): Promise<{ env: NodeJS.ProcessEnv; asked: string }> {
    const asked = join(work, `${name}-asked`);
    return { env: await wrappedGit(name, `: > ${JSON.stringify(asked)}\n`), asked };
  }

  it('when the enclave starts, the inputs are prepared only once its sandbox is launched', async () => {
    const r = await repo('echo hi > out.txt');
    const { env, asked } = await notingGit('order');
    const seen: string[] = [];
    const spying: LocalBackend = Object.create(backend) as LocalBackend;
    spying.start = (spec: EnclaveSpec) =>
      backend.start({
        ...spec,
        onLaunched: () => {
          seen.push(existsSync(asked) ? 'launched after git' : 'launched before git');
          spec.onLaunched?.();
        },
      });
    await runBuild({
      dir: r.dir,
      out: join(work, 'order.tar.gz'),
      backend: spying,
      catalog: await loadImageCatalog(),
      cacheDir: join(work, 'cache'),
      env,
    });
    expect(seen).toEqual(['launched before git']);
    expect(existsSync(asked)).toBe(true);
  });

  it('when git fails while the source is being sent, the build fails with GIT_FAILED and the enclave is gone', async () => {
    // The source is read as it is sent: a file changed in the work tree is asked of git then,
    // and this git lists the tree but cannot answer for blobs.
    const r = await repo('echo hi > out.txt');
    await writeFile(join(r.dir, 'go.mod'), 'module example.com/changed\n');
    const env = await wrappedGit(
      'no-blobs',
      `for a in "$@"; do [ "$a" = --batch ] && { echo 'fatal: no blobs here' >&2; exit 128; }; done\n`,
    );
    const keeping = keepingStarted(backend);
    const err = await runBuild({
      dir: r.dir,
      out: join(work, 'no-blobs.tar.gz'),
      backend: keeping.backend,
      catalog: await loadImageCatalog(),
      cacheDir: join(work, 'cache'),
      allowDirty: true,
      env,
    }).catch((e: unknown) => e);
    expect(err).toHaveCode('GIT_FAILED');
    // Gone either way: stopped by the client, or ended by itself once told of the failure.
    const enclave = keeping.started();
    expect(enclave).toBeDefined();
    await enclave!.exited;
    expect(['stopped', 'failed']).toContain(enclave!.state);
    expect(existsSync(join(work, 'no-blobs.tar.gz'))).toBe(false);
  });

  it('when the start fails before any launch, the build fails with its error, not a wait', async () => {
    const r = await repo('echo hi > out.txt');
    const failing: LocalBackend = Object.create(backend) as LocalBackend;
    failing.start = () =>
      new Promise<Enclave>((_, reject) =>
        setTimeout(() => reject(new EnclaveError('ENCLAVE_START_FAILED', 'no sandbox here')), 50),
      );
    await expect(
      runBuild({
        dir: r.dir,
        out: join(work, 'failed-start.tar.gz'),
        backend: failing,
        catalog: await loadImageCatalog(),
        cacheDir: join(work, 'cache'),
      }),
    ).rejects.toHaveCode('ENCLAVE_START_FAILED');
  });
});

describe('runBuild cancel before the session (local backend)', () => {
  it('when cancelled before it starts, it rejects with PROTOCOL_CANCELLED and starts nothing', async () => {
    const r = await repo('echo hi > out.txt');
    const abort = new AbortController();
    abort.abort();
    let started = 0;
    const counting: LocalBackend = Object.create(backend) as LocalBackend;
    counting.start = (spec: EnclaveSpec) => {
      started++;
      return backend.start(spec);
    };
    const err = await runBuild({
      dir: r.dir,
      out: join(work, 'never.tar.gz'),
      backend: counting,
      catalog: await loadImageCatalog(),
      signal: abort.signal,
    }).catch((e: unknown) => e);
    expect(err).toHaveCode('PROTOCOL_CANCELLED');
    expect(started).toBe(0);
  });

  it('when cancelled while the inputs are prepared, it rejects at once and stops the enclave that was starting', async () => {
    const r = await repo('echo hi > out.txt');
    // git that takes its time (the source is read through it), and says when it is asked.
    const asked = join(work, 'git-asked');
    const env = await wrappedGit('slow', `: > ${JSON.stringify(asked)}\nsleep 3\n`);
    const spying = keepingStarted(backend);
    const abort = new AbortController();
    const events: BuildEvent[] = [];
    const running = runBuild({
      dir: r.dir,
      out: join(work, 'cancelled.tar.gz'),
      backend: spying.backend,
      catalog: await loadImageCatalog(),
      cacheDir: join(work, 'cache'),
      env,
      signal: abort.signal,
      onEvent: (e) => events.push(e),
    }).catch((e: unknown) => e);
    await until(() =>
      stat(asked).then(
        () => true,
        () => false,
      ),
    );
    const t0 = Date.now();
    abort.abort();
    const err = await running;
    // Not held up by git, which still sleeps; only by stopping the enclave.
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toHaveCode('PROTOCOL_CANCELLED');
    expect(events.map((e) => e.type)).toEqual(['enclave']);
    const enclave = spying.started();
    expect(enclave).toBeDefined();
    await expect(enclave!.exited).resolves.toMatchObject({ state: 'stopped', reason: 'stopped' });
  });
});

describe('runBuild on the nitro backend (stand-in host)', () => {
  let host: StandinHost;
  let worker: string;
  let nitro: NitroBackend;
  beforeAll(async () => {
    host = await createStandinHost();
    worker = host.config().workerEntry;
    nitro = new NitroBackend(host.backendConfig({ owner: 'runbuild' }), { catalog: host.catalog });
  });
  afterAll(async () => {
    host.configure({ workerEntry: worker });
    await host.remove();
  });

  it('when the inputs are prepared, the enclave is started after them with memory for the build, the image and the inputs', async () => {
    const r = await repo('echo hi > out.txt');
    const events: BuildEvent[] = [];
    await runBuild({
      dir: r.dir,
      out: join(work, 'nitro.tar.gz'),
      backend: nitro,
      catalog: host.catalog,
      cacheDir: join(work, 'cache'),
      onEvent: (e) => events.push(e),
    });
    const kinds = events.map((e) => (e.type === 'enclave' ? `enclave ${e.state}` : e.type));
    expect(kinds.indexOf('prepared')).toBeLessThan(kinds.indexOf('enclave starting'));
    const argv = host.runCalls().at(-1)!;
    const memory = Number(argv[argv.indexOf('--memory') + 1]);
    const image = minimumMemoryForEif((await stat(host.eifs['go']!)).size);
    // A tiny source archive (2 × its size) still takes a MiB; the total is in 2 MiB pages.
    expect(memory).toBe(Math.ceil((DEFAULT_MEMORY_MIB + image + 1) / 2) * 2);
  });

  it('when cancelled while the enclave boots, it rejects at once and the enclave is terminated', async () => {
    const hang = join(work, 'hang.mjs');
    await writeFile(hang, 'setInterval(() => undefined, 1 << 30);\n');
    host.configure({ workerEntry: hang });
    try {
      const r = await repo('echo hi > out.txt');
      const abort = new AbortController();
      const running = runBuild({
        dir: r.dir,
        out: join(work, 'nitro-cancelled.tar.gz'),
        backend: nitro,
        catalog: host.catalog,
        cacheDir: join(work, 'cache'),
        signal: abort.signal,
      }).catch((e: unknown) => e);
      await until(() => host.enclaves().length === 1);
      const id = host.enclaves()[0]!.id;
      const t0 = Date.now();
      abort.abort();
      const err = await running;
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(err).toHaveCode('PROTOCOL_CANCELLED');
      expect(host.enclaves()).toEqual([]);
      expect(
        host.calls().filter((c) => c.argv[0] === 'terminate-enclave' && c.argv.includes(id)),
      ).toHaveLength(1);
    } finally {
      host.configure({ workerEntry: worker });
    }
  });
});
