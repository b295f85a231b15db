/**
 * The worker refuses input archives it cannot read safely, each with its own code: a source archive
 * that is not a tar or tries to leave the workspace (SOURCE_ARCHIVE_INVALID), a dependency set that
 * is not one (DEPENDENCY_INVALID). Run for real in the local sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTarFile } from '../../src/archive/node.js';
import type { LocalBackend } from '../../src/enclave/index.js';
import type { PreparedInputs } from '../../src/client/index.js';
import { WorkerError } from '../../src/protocol/index.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { exampleRepo, goProject, makeRepo } from '../support/source/build-repo.js';
import {
  fileInput,
  prepare,
  runSession,
  submissionOf,
} from '../support/processes/build-session.js';
import { sandboxBackend } from '../support/processes/sandbox-worker.js';

let backend: LocalBackend;
let work: string;
const repos: TestRepo[] = [];
const prepared: PreparedInputs[] = [];

beforeAll(async () => {
  backend = await sandboxBackend();
  work = await mkdtemp(join(tmpdir(), 'tc-refuse-'));
});
afterAll(async () => {
  for (const p of prepared) await p.cleanup();
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

async function prepared_(repo: TestRepo): Promise<PreparedInputs> {
  repos.push(repo);
  const p = await prepare(repo.dir, join(work, 'cache'));
  prepared.push(p);
  return p;
}

/** A tar whose one member climbs out of the directory it is unpacked into. */
async function escapingTar(file: string): Promise<number> {
  const { bytes } = await writeTarFile(
    (async function* () {
      yield { path: 'ok.txt', type: 'file' as const, content: new TextEncoder().encode('ok\n') };
    })(),
    file,
  );
  // Rewrite the member name in place: same length, so the header checksum is fixed below.
  const tar = await readFile(file);
  tar.write('../x.txt'.padEnd(8, '\0'), 0, 'latin1');
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  await writeFile(file, tar);
  return bytes;
}

describe('worker checks of its input archives', () => {
  it('when the source archive is not a tar, it refuses with SOURCE_ARCHIVE_INVALID', async () => {
    const real = await prepared_(await makeRepo(goProject('echo ok > out.txt')));
    const junk = join(work, 'junk.tar');
    await writeFile(junk, Buffer.alloc(4096, 0x41));
    const sub = submissionOf(real);
    sub.inputs.source = fileInput(junk, 4096);
    const run = await runSession(backend, 'go', sub);
    await run.cleanup();
    expect(run.error).toBeInstanceOf(WorkerError);
    expect(run.error).toHaveCode('SOURCE_ARCHIVE_INVALID');
  });

  it('when the source archive climbs out of the workspace, it refuses with SOURCE_ARCHIVE_INVALID', async () => {
    const real = await prepared_(await makeRepo(goProject('echo ok > out.txt')));
    const file = join(work, 'escape.tar');
    const size = await escapingTar(file);
    const sub = submissionOf(real);
    sub.inputs.source = fileInput(file, size);
    const run = await runSession(backend, 'go', sub);
    await run.cleanup();
    expect(run.error).toHaveCode('SOURCE_ARCHIVE_INVALID');
  });

  it('when the dependency set is not a tar, it refuses with DEPENDENCY_INVALID', async () => {
    const real = await prepared_(await exampleRepo('node-ts'));
    expect(real.depsArchive).not.toBeNull();
    const junk = join(work, 'deps-junk.tar');
    await writeFile(junk, Buffer.alloc(2048, 0x42));
    const sub = submissionOf(real);
    sub.inputs.deps = fileInput(junk, 2048);
    const run = await runSession(backend, 'node', sub);
    await run.cleanup();
    expect(run.error).toHaveCode('DEPENDENCY_INVALID');
  });
});
