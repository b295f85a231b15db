/**
 * The worker, run for real in the local sandbox, refuses what it must: inputs that do not match
 * their claims, builds that exceed their bounds, outputs that are not there, and protocol abuse.
 * Inputs are prepared from real repositories by the client code and then tampered with.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { extractTar, packDirectory, writeTarFile, fileChunks } from '../../src/archive/node.js';
import type { LocalBackend } from '../../src/enclave/local.js';
import type { PreparedInputs } from '../../src/client/inputs.js';
import { WorkerError } from '../../src/protocol/index.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { exampleRepo, goProject, makeRepo } from '../support/source/build-repo.js';
import {
  bytesOf,
  fileInput,
  prepare,
  runSession,
  submissionOf,
} from '../support/processes/build-session.js';
import { sandboxBackend } from '../support/processes/sandbox-worker.js';

let backend: LocalBackend;
let cache: string;
const repos: TestRepo[] = [];
const prepared: PreparedInputs[] = [];

beforeAll(async () => {
  backend = await sandboxBackend();
  cache = await mkdtemp(join(tmpdir(), 'tc-cache-'));
});
afterAll(async () => {
  for (const p of prepared) await p.cleanup();
  for (const r of repos) await r.remove();
  await rm(cache, { recursive: true, force: true });
});

async function project(files: Record<string, string>, subdir = '.'): Promise<PreparedInputs> {
  const repo = await makeRepo(files, subdir);
  repos.push(repo);
  const p = await prepare(repo.dir, cache);
  prepared.push(p);
  return p;
}

describe('worker checks of the source', () => {
  it('when the files do not hash to the claimed tree, it refuses with SOURCE_TREE_MISMATCH', async () => {
    const real = await project(goProject('echo ok > out.txt'));
    const other = await project({
      ...goProject('echo ok > out.txt'),
      'extra.txt': 'not in the commit\n',
    });
    const sub = submissionOf(real);
    // The claimed commit and tree are real; the files are those of another tree.
    sub.inputs.source = other.sourceArchive;
    const run = await runSession(backend, 'go', sub);
    await run.cleanup();
    expect(run.error).toBeInstanceOf(WorkerError);
    expect(run.error).toHaveCode('SOURCE_TREE_MISMATCH');
    expect((run.error as Error).message).toContain(`not to the claimed tree ${real.source.tree}`);
    expect(run.exit.reason).toBe('exited');
    expect(run.exit.exitCode).toBe(1);
  });

  it('when the commit object does not hash to the claimed commit, it refuses with SOURCE_COMMIT_MISMATCH', async () => {
    const real = await project(goProject('echo ok > out.txt'));
    const sub = submissionOf(real);
    const raw = Buffer.from(real.source.commitObject!);
    sub.inputs.commit = bytesOf(Buffer.from(raw.toString('utf8').replace('test', 'tampered')));
    const run = await runSession(backend, 'go', sub);
    await run.cleanup();
    expect(run.error).toHaveCode('SOURCE_COMMIT_MISMATCH');
    expect((run.error as Error).message).toMatch(
      /hashes to [0-9a-f]{40}, not to the claimed commit/,
    );
  });

  it('when the claimed tree is not the one the commit names, it refuses with SOURCE_COMMIT_MISMATCH', async () => {
    const real = await project(goProject('echo ok > out.txt'));
    const other = await project({ ...goProject('echo ok > out.txt'), 'x.txt': 'x\n' });
    const sub = submissionOf(real);
    sub.source.tree = other.source.tree;
    sub.inputs.source = other.sourceArchive;
    const run = await runSession(backend, 'go', sub);
    await run.cleanup();
    expect(run.error).toHaveCode('SOURCE_COMMIT_MISMATCH');
    expect((run.error as Error).message).toContain(`names tree ${real.source.tree}`);
  });

  it('when build.json is malformed, it refuses with CONFIG_INVALID naming the field', async () => {
    const real = await project(goProject('echo ok > out.txt'));
    const sub = submissionOf(real);
    sub.inputs.config = bytesOf(
      Buffer.from(
        JSON.stringify({ language: 'go', input: { cmd: 'true' }, output: { files: 'out.txt' } }),
      ),
    );
    const run = await runSession(backend, 'go', sub);
    await run.cleanup();
    expect(run.error).toHaveCode('CONFIG_INVALID');
    expect((run.error as WorkerError).path).toBe('output.files');
  });

  it('when build.json asks for another language than the image, it refuses with IMAGE_MISMATCH', async () => {
    const real = await project(goProject('echo ok > out.txt'));
    const run = await runSession(backend, 'rust', submissionOf(real));
    await run.cleanup();
    expect(run.error).toHaveCode('IMAGE_MISMATCH');
  });
});

describe('worker checks of the dependencies', () => {
  it('when a dependency’s bytes differ from the lockfile, it refuses with DEPENDENCY_MISMATCH', async () => {
    const repo = await exampleRepo('node-ts');
    repos.push(repo);
    const real = await prepare(repo.dir, cache);
    prepared.push(real);
    expect(real.depsArchive).not.toBeNull();
    // Unpack the set, flip one byte of one tarball, pack it again.
    const work = await mkdtemp(join(tmpdir(), 'tc-deps-'));
    await extractTar(fileChunks(real.depsArchive!.file), join(work, 'set'));
    // Files are named by their checksums; picocolors is the small one.
    const npmDir = join(work, 'set', 'npm');
    const names = await readdir(npmDir);
    const sizes = await Promise.all(
      names.map(async (n) => (await readFile(join(npmDir, n))).length),
    );
    const victim = join(npmDir, names[sizes.indexOf(Math.min(...sizes))]!);
    const bytes = await readFile(victim);
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    await writeFile(victim, bytes);
    const tar = join(work, 'tampered.tar');
    const written = await writeTarFile(packDirectory(join(work, 'set')), tar);
    const sub = submissionOf(real);
    sub.inputs.deps = fileInput(tar, written.bytes);
    const run = await runSession(backend, 'node', sub);
    await run.cleanup();
    await rm(work, { recursive: true, force: true });
    expect(run.error).toHaveCode('DEPENDENCY_MISMATCH');
    expect((run.error as Error).message).toContain('picocolors');
  });

  it('when a locked dependency is missing from the set, it refuses with DEPENDENCY_MISMATCH', async () => {
    const repo = await exampleRepo('node-ts');
    repos.push(repo);
    const real = await prepare(repo.dir, cache);
    prepared.push(real);
    const sub = submissionOf(real);
    sub.inputs.deps = bytesOf(new Uint8Array(0));
    const run = await runSession(backend, 'node', sub);
    await run.cleanup();
    expect(run.error).toHaveCode('DEPENDENCY_MISMATCH');
    expect((run.error as Error).message).toMatch(/missing/);
  });
});

describe('worker bounds on the build', () => {
  it('when the build runs past its time limit, it is killed and refused with BUILD_TIMEOUT', async () => {
    const p = await project(
      goProject('echo started; sleep 60; echo never > out.txt', { timeout: 1 }),
    );
    const run = await runSession(backend, 'go', submissionOf(p));
    await run.cleanup();
    expect(run.error).toHaveCode('BUILD_TIMEOUT');
    expect((run.error as WorkerError).logTail).toContain('started');
  });

  it('when the build uses more memory than allowed, it is killed and refused with BUILD_OUT_OF_MEMORY', async () => {
    // `tail -n 1` keeps the last line in memory: a gigabyte of zeros is one line.
    const p = await project(
      goProject('head -c 1024m /dev/zero | tail -n 1 > out.txt', { resources: { memoryMiB: 256 } }),
    );
    const run = await runSession(backend, 'go', submissionOf(p), { memoryMiB: 256 });
    await run.cleanup();
    expect(run.error).toHaveCode('BUILD_OUT_OF_MEMORY');
  });

  it('when the build writes more than its memory into the workspace (in memory, as in an enclave), it is refused with BUILD_OUT_OF_MEMORY', async () => {
    const p = await project(
      goProject('head -c 400m /dev/zero > big.bin; echo x > out.txt', {
        resources: { memoryMiB: 256 },
      }),
    );
    const run = await runSession(backend, 'go', submissionOf(p), { memoryMiB: 256 });
    await run.cleanup();
    expect(run.error).toHaveCode('BUILD_OUT_OF_MEMORY');
    expect(run.error).toMatchObject({ path: 'resources.memoryMiB' });
  });

  it('when the build command fails, it returns the exit status and the log tail, and no attestation', async () => {
    const p = await project(goProject('echo one; echo two >&2; exit 7'));
    const run = await runSession(backend, 'go', submissionOf(p));
    await run.cleanup();
    expect(run.error).toHaveCode('BUILD_FAILED');
    expect(run.error).toMatchObject({
      exitCode: 7,
      logTail: expect.arrayContaining(['one', 'two']),
    });
    expect(run.events.some((e) => e.type === 'phase' && e.phase === 'attesting')).toBe(false);
  });

  it('when no file matches the outputs, it refuses with OUTPUT_MISSING listing every glob that matched nothing', async () => {
    const p = await project(
      goProject('mkdir -p bin && echo x > bin/a', {}, ['bin/a', 'bin/missing', 'dist/**/*.js']),
    );
    const run = await runSession(backend, 'go', submissionOf(p));
    await run.cleanup();
    expect(run.error).toHaveCode('OUTPUT_MISSING');
    expect((run.error as Error).message).toContain('"bin/missing", "dist/**/*.js"');
    expect((run.error as Error).message).not.toContain('"bin/a"');
  });

  it('when an output is a symbolic link, it refuses with OUTPUT_INVALID', async () => {
    const p = await project(goProject('ln -s /etc/passwd out.txt'));
    const run = await runSession(backend, 'go', submissionOf(p));
    await run.cleanup();
    expect(run.error).toHaveCode('OUTPUT_INVALID');
  });
});

describe('worker and connection failures', () => {
  it('when the worker is killed mid-build, the client reports the drop and the backend reports the kill', async () => {
    const p = await project(goProject('echo building; sleep 60'));
    let killed = false;
    const run = await runSession(backend, 'go', submissionOf(p), {
      during: (e, enclave) => {
        if (killed || e.type !== 'log') return;
        killed = true;
        void killWorkerOf(enclave.id);
      },
    });
    await run.cleanup();
    expect(run.error).toHaveCode('PROTOCOL_CONNECTION_LOST');
    expect(run.exit).toMatchObject({ state: 'failed', reason: 'killed' });
  });

  it('when the connection drops during the upload, the worker ends its session and says so', async () => {
    const p = await project({
      ...goProject('echo ok > out.txt'),
      'big.bin': 'x'.repeat(8 * 1024 * 1024),
    });
    const sub = submissionOf(p);
    const run = await runSession(backend, 'go', sub, {
      during: (e, _enclave, stream) => {
        if (e.type === 'phase' && e.phase === 'receiving') stream.destroy();
      },
    });
    await run.cleanup();
    expect(run.error).toHaveCode('PROTOCOL_CONNECTION_LOST');
    expect(run.exit.exitCode).toBe(2);
    expect(run.exit.message).toContain('PROTOCOL_CONNECTION_LOST');
  });

  it('when a client announces an input over the worker’s limit, the worker refuses it with PROTOCOL_LIMIT', async () => {
    const enclave = await backend.start({
      buildId: 'limit',
      image: { name: 'go', version: '0.1.0', language: 'go' },
      cpus: 1,
      memoryMiB: 512,
      timeoutMs: 60_000,
    });
    const replies = await rawExchange(await enclave.connect(), [
      { type: 'hello', protocol: 'tee-compile', versions: [1], client: 'raw' },
      {
        type: 'build',
        nonce: '00'.repeat(32),
        workdir: '.',
        source: { repository: null, commit: null, tree: 'b'.repeat(40), objectFormat: 'sha1' },
        inputs: { config: 10, commit: 0, source: 64 * 1024 ** 3, deps: 0 },
      },
    ]);
    await enclave.stop();
    expect(replies.at(-1)).toMatchObject({ type: 'error', code: 'PROTOCOL_LIMIT' });
    expect(String(replies.at(-1)?.message)).toContain("input 'source'");
  });

  it('when a client offers an unknown protocol version, the worker refuses it with PROTOCOL_VERSION', async () => {
    const enclave = await backend.start({
      buildId: 'version',
      image: { name: 'go', version: '0.1.0', language: 'go' },
      cpus: 1,
      memoryMiB: 512,
      timeoutMs: 60_000,
    });
    const replies = await rawExchange(await enclave.connect(), [
      { type: 'hello', protocol: 'tee-compile', versions: [3, 4], client: 'raw' },
    ]);
    const exit = await enclave.exited;
    expect(replies.at(-1)).toMatchObject({ type: 'error', code: 'PROTOCOL_VERSION' });
    expect(exit.exitCode).toBe(1);
  });
});

/** Kills the host process of the worker of enclave `id` (found by its command line). */
async function killWorkerOf(id: string): Promise<void> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const argv = cmd.split('\0');
    if (
      argv.includes(id) &&
      argv.some((a) => a.endsWith('worker.mjs')) &&
      argv[0]?.endsWith('node')
    ) {
      process.kill(Number(pid), 'SIGKILL');
      return;
    }
  }
  throw new Error(`worker of ${id} not found`);
}

/** Sends raw JSON messages over a WebSocket on `stream` and collects the replies until the close. */
async function rawExchange(stream: Duplex, messages: object[]): Promise<Record<string, unknown>[]> {
  const ws = new WebSocket('ws://worker/', {
    createConnection: () => stream as Socket,
  });
  const replies: Record<string, unknown>[] = [];
  ws.on('message', (d: Buffer) =>
    replies.push(JSON.parse(d.toString('utf8')) as Record<string, unknown>),
  );
  ws.on('error', () => undefined);
  await new Promise((r) => ws.once('open', r));
  for (const m of messages) ws.send(JSON.stringify(m));
  await new Promise((r) => ws.once('close', r));
  return replies;
}
