/**
 * The local backend's lifecycle and isolation: start, one connection, stop, time limit, failed
 * starts, orphan cleanup, and builds that run at the same time without seeing each other.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { decodeAttestation, pcr3ForIamRole } from '../../src/attestation/index.js';
import { readBundle } from '../../src/bundle/index.js';
import { createMemoryLimit } from '../../src/enclave/cgroup.js';
import type { LocalBackend } from '../../src/enclave/local.js';
import {
  DEFAULT_SIMULATED_ROLE,
  REMOVING_PREFIX,
  WORKER_RESERVE_MIB,
  WORKSPACE_PATH,
} from '../../src/enclave/local.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import type { EnclaveSpec } from '../../src/enclave/types.js';
import { toHex } from '../../src/util/hex.js';
import { WORKER_NICENESS_WHILE_BUILDING } from '../../src/worker/start.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { prepare, runSession, submissionOf } from '../support/processes/build-session.js';
import { sandboxBackend } from '../support/processes/sandbox-worker.js';

const spec = (over: Partial<EnclaveSpec> = {}): EnclaveSpec => ({
  buildId: 'test',
  image: { name: 'go', version: '0.1.0', language: 'go' },
  cpus: 1,
  memoryMiB: 512,
  timeoutMs: 60_000,
  ...over,
});

let backend: LocalBackend;
let cache: string;
const repos: TestRepo[] = [];

beforeAll(async () => {
  backend = await sandboxBackend();
  cache = await mkdtemp(join(tmpdir(), 'tc-cache-'));
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(cache, { recursive: true, force: true });
});

describe('local backend lifecycle', () => {
  it('when started, it runs isolated, gives one byte stream only, and stops cleanly', async () => {
    const enclave = await backend.start(spec());
    expect(enclave.state).toBe('running');
    expect(enclave.isolation).toMatchObject({
      backend: 'local',
      network: 'netns',
      filesystem: 'mountns',
    });
    expect(['cgroup2', 'cgroup1', 'rlimit']).toContain(enclave.isolation.memory);
    const s = await enclave.connect();
    await expect(enclave.connect()).rejects.toHaveCode('ENCLAVE_CONNECT_FAILED');
    s.destroy();
    await enclave.stop();
    await expect(enclave.exited).resolves.toMatchObject({ state: 'stopped', reason: 'stopped' });
    expect(enclave.state).toBe('stopped');
    await enclave.stop(); // idempotent
    // Isolated, the workspace is a tmpfs inside the sandbox: nothing of it was made on the host.
    const builds = join(tmpdir(), `tee-compile-${process.getuid!()}`, 'builds');
    expect(existsSync(join(builds, enclave.id))).toBe(false);
    expect(existsSync(join(builds, `${REMOVING_PREFIX}${enclave.id}`))).toBe(false);
  });

  it('when the sandbox is spawned, onLaunched is called once, before the start resolves', async () => {
    const calls: string[] = [];
    const starting = backend.start(spec({ onLaunched: () => calls.push('launched') }));
    void starting.then(() => calls.push('started'));
    const enclave = await starting;
    await enclave.stop();
    expect(calls).toEqual(['launched', 'started']);
  });

  it('when the start fails before the sandbox is spawned, onLaunched is never called', async () => {
    let launched = 0;
    await expect(
      backend.start(spec({ memoryMiB: 64, onLaunched: () => launched++ })),
    ).rejects.toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(launched).toBe(0);
  });

  it('when the enclave outlives its time limit, it is killed with reason timeout', async () => {
    const enclave = await backend.start(spec({ timeoutMs: 1500 }));
    const exit = await enclave.exited;
    expect(exit).toMatchObject({ state: 'failed', reason: 'timeout' });
    expect(exit.message).toMatch(/time limit of 2 s/);
  });

  it('when the worker cannot start, start fails with ENCLAVE_START_FAILED and the worker’s words', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'tc-bad-'));
    const entry = join(bad, 'worker.mjs');
    await writeFile(
      entry,
      "process.stderr.write('worker: broken on purpose\\n'); process.exit(3);\n",
    );
    const b = await sandboxBackend({ workerEntry: entry });
    const err = await b.start(spec()).catch((e: unknown) => e);
    await rm(bad, { recursive: true, force: true });
    expect(err).toHaveCode('ENCLAVE_START_FAILED');
    expect((err as Error).message).toContain('broken on purpose');
  });

  it('when the memory asked for is below what the worker needs, start fails with ENCLAVE_SPEC_INVALID', async () => {
    await expect(backend.start(spec({ memoryMiB: 64 }))).rejects.toHaveCode('ENCLAVE_SPEC_INVALID');
  });

  it('when a crashed process left a sandbox behind, cleanupOrphans kills it and removes its files', async () => {
    const state = await mkdtemp(join(tmpdir(), 'tc-state-'));
    const b = await sandboxBackend({ stateDir: state });
    const id = 'local-orphan-0000';
    const workspace = join(state, 'builds', id);
    const meta = join(state, 'meta', id);
    await mkdir(workspace, { recursive: true });
    await mkdir(meta, { recursive: true });
    await mkdir(join(state, 'run'), { recursive: true });
    const memory = await createMemoryLimit(`tee-compile-${id}`, 256 * 1024 * 1024);
    const orphan = spawn('sleep', ['300', id], { detached: true, stdio: 'ignore' });
    const gone = new Promise((r) => orphan.once('exit', r));
    const cgroup = memory.dir ? { cgroup: memory.dir } : {};
    await writeFile(
      join(state, 'run', `${id}.json`),
      JSON.stringify({ id, pid: orphan.pid, workspace, meta, ...cgroup }),
    );
    // A workspace whose removal in the background was interrupted.
    const aside = join(state, 'builds', `${REMOVING_PREFIX}local-done-0000`);
    await mkdir(join(aside, 'src'), { recursive: true });
    await writeFile(join(aside, 'src', 'left.txt'), 'left\n');
    const removed = await b.cleanupOrphans();
    await gone;
    expect(removed).toEqual([id]);
    expect(existsSync(workspace)).toBe(false);
    expect(existsSync(aside)).toBe(false);
    if (memory.dir) expect(existsSync(memory.dir)).toBe(false);
    expect(existsSync(join(state, 'run', `${id}.json`))).toBe(false);
    await rm(state, { recursive: true, force: true });
  });
});

describe('local backend builds', () => {
  it('when two builds run at once, each has the fixed workspace to itself and sees no other build', async () => {
    const cmd = [
      'pwd > out.txt',
      `ls -A ${join(tmpdir(), `tee-compile-${process.getuid!()}`, 'builds')} | wc -l >> out.txt`,
      `ls -A ${WORKSPACE_PATH}/src >> out.txt`,
      // The workspace is in memory, as in an enclave, and as large as the enclave's memory less
      // the worker's share (src/enclave/sandbox.ts): file system type, then its size in bytes.
      `stat -f -c %T ${WORKSPACE_PATH} >> out.txt`,
      `stat -f -c %T ${WORKSPACE_PATH}/deps >> out.txt`,
      `echo $(( $(stat -f -c '%b * %S' ${WORKSPACE_PATH}) )) >> out.txt`,
      'sleep 1',
    ].join('; ');
    const a = await makeRepo({ ...goProject(cmd), 'a.txt': 'a\n' });
    const b = await makeRepo({ ...goProject(cmd), 'b.txt': 'b\n' });
    repos.push(a, b);
    const [pa, pb] = [await prepare(a.dir, cache), await prepare(b.dir, cache)];
    const [ra, rb] = await Promise.all([
      runSession(backend, 'go', submissionOf(pa)),
      runSession(backend, 'go', submissionOf(pb)),
    ]);
    const read = async (file: string): Promise<string[]> =>
      Buffer.from((await readBundle(fileChunks(file))).artifacts.get('out.txt')!)
        .toString('utf8')
        .trim()
        .split('\n');
    const [oa, ob] = [await read(ra.bundleFile), await read(rb.bundleFile)];
    await Promise.all([ra.cleanup(), rb.cleanup(), pa.cleanup(), pb.cleanup()]);
    // `.git` is the work tree's, written by the worker from the verified commit.
    const files = (own: string) => [
      `${WORKSPACE_PATH}/src`,
      '0',
      '.git',
      own,
      'build.json',
      'go.mod',
      'out.txt',
      'tmpfs',
      'tmpfs',
      String((2048 - WORKER_RESERVE_MIB) * 1024 * 1024),
    ];
    expect(oa).toEqual(files('a.txt'));
    expect(ob).toEqual(files('b.txt'));
  });

  it('when the command runs, the worker has yielded the CPU to it (its niceness above the command’s)', async () => {
    // The command's parent is the worker; by the time it looks, the worker has lowered itself.
    const cmd = 'sleep 1; cut -d" " -f19 /proc/$PPID/stat > out.txt; nice >> out.txt';
    const repo = await makeRepo(goProject(cmd));
    repos.push(repo);
    const p = await prepare(repo.dir, cache);
    const run = await runSession(backend, 'go', submissionOf(p));
    const bundle = await readBundle(fileChunks(run.bundleFile));
    await Promise.all([run.cleanup(), p.cleanup()]);
    const [worker, command] = Buffer.from(bundle.artifacts.get('out.txt')!)
      .toString('utf8')
      .trim()
      .split('\n')
      .map(Number);
    expect(worker).toBe(WORKER_NICENESS_WHILE_BUILDING + command!);
  });

  it('when it attests, PCR0-2 are the image’s simulated values and PCR3 that of the simulated role', async () => {
    const repo = await makeRepo(goProject('echo hi > out.txt'));
    repos.push(repo);
    const p = await prepare(repo.dir, cache);
    const run = await runSession(backend, 'go', submissionOf(p));
    const bundle = await readBundle(fileChunks(run.bundleFile));
    await Promise.all([run.cleanup(), p.cleanup()]);
    const doc = decodeAttestation(bundle.attestation);
    const image = (await loadImageCatalog()).images.find((i) => i.name === 'go')!;
    expect(toHex(doc.pcrs.get(0)!)).toBe(image.simulated.pcr0);
    expect(toHex(doc.pcrs.get(1)!)).toBe(image.simulated.pcr1);
    expect(toHex(doc.pcrs.get(2)!)).toBe(image.simulated.pcr2);
    expect(toHex(doc.pcrs.get(3)!)).toBe(toHex(pcr3ForIamRole(DEFAULT_SIMULATED_ROLE)));
    expect(toHex(doc.nonce!)).toBe('09'.repeat(32));
    const provenance = JSON.parse(Buffer.from(bundle.provenance).toString('utf8')) as {
      predicate: {
        buildDefinition: { internalParameters: { isolation: Record<string, unknown> } };
      };
    };
    expect(provenance.predicate.buildDefinition.internalParameters.isolation).toMatchObject({
      backend: 'local',
      network: 'netns',
      filesystem: 'mountns',
      interfaces: ['lo'],
    });
  });
});

describe('local backend where the OS refuses namespaces', () => {
  let fake: string;
  beforeAll(async () => {
    fake = await mkdtemp(join(tmpdir(), 'tc-unshare-'));
    // What util-linux prints where user namespaces are disabled.
    await writeFile(
      join(fake, 'unshare'),
      '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n',
      {
        mode: 0o755,
      },
    );
  });
  afterAll(() => rm(fake, { recursive: true, force: true }));

  it('when unisolated builds are not allowed, start is refused with ISOLATION_UNAVAILABLE quoting the OS', async () => {
    const b = await sandboxBackend({ unshare: join(fake, 'unshare') });
    const err = await b.start(spec()).catch((e: unknown) => e);
    expect(err).toHaveCode('ISOLATION_UNAVAILABLE');
    expect((err as Error).message).toContain('Operation not permitted');
    expect((err as Error).message).toContain('--allow-unisolated');
  });

  it('when unisolated builds are allowed, the build runs and the provenance records no isolation', async () => {
    const b = await sandboxBackend({ unshare: join(fake, 'unshare'), allowUnisolated: true });
    const repo = await makeRepo(goProject('echo hi > out.txt'));
    repos.push(repo);
    const p = await prepare(repo.dir, cache);
    const run = await runSession(b, 'go', submissionOf(p));
    expect(run.error).toBeUndefined();
    expect(run.enclave.isolation).toMatchObject({ network: 'none', filesystem: 'none' });
    const bundle = await readBundle(fileChunks(run.bundleFile));
    await Promise.all([run.cleanup(), p.cleanup()]);
    const provenance = JSON.parse(Buffer.from(bundle.provenance).toString('utf8')) as {
      predicate: {
        buildDefinition: {
          internalParameters: {
            isolation: { network: string; filesystem: string; notes: string[] };
          };
        };
      };
    };
    const isolation = provenance.predicate.buildDefinition.internalParameters.isolation;
    expect(isolation).toMatchObject({ network: 'none', filesystem: 'none' });
    expect(isolation.notes.join('\n')).toContain('allowed with --allow-unisolated');
  });
});
