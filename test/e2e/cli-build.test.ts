/**
 * `tee-compile build` as a user meets it: flags, refusals with their codes and exit statuses,
 * progress on stderr, the result on stdout.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { readBundle } from '../../src/bundle/index.js';
import { cliBuild, cliBuildJson, cliVerify } from '../support/cli/build-cli.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';

let work: string;
const repos: TestRepo[] = [];
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-cli-'));
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

async function repo(files: Record<string, string>, subdir = '.'): Promise<TestRepo> {
  const r = await makeRepo(files, subdir);
  repos.push(r);
  return r;
}

describe('tee-compile build', () => {
  it('when the project is a subdirectory, it builds the committed tree there and prints the result', async () => {
    const r = await repo(goProject('echo "$SOURCE_DATE_EPOCH" > out.txt'), 'tools/gen');
    const res = await cliBuild(
      ['tools/gen', '--local', '--out', join(work, 'gen.tar.gz')],
      r.root,
      work,
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('(workdir tools/gen)');
    expect(res.stderr).toMatch(/no --nonce given: using a random one/);
    expect(res.stderr).toContain('tee-compile: building');
    expect(res.stdout).toMatch(/^sha256:[0-9a-f]{64} {2}tools\/gen\/out\.txt$/m);
    expect(res.stdout).toMatch(/^nonce {3}[0-9a-f]{64}$/m);
    expect(res.stdout).toContain('SIMULATED');
    const bundle = await readBundle(fileChunks(join(work, 'gen.tar.gz')));
    // SOURCE_DATE_EPOCH is the commit's committer time (2024-01-01T00:00:00Z).
    expect(Buffer.from(bundle.artifacts.get('tools/gen/out.txt')!).toString()).toBe('1704067200\n');
  });

  it('when --json is given, it prints one object that verify accepts with its nonce and commit', async () => {
    const r = await repo(goProject('echo json > out.txt'));
    const nonce = 'ab'.repeat(20);
    const j = await cliBuildJson(
      ['--local', '--nonce', nonce, '--out', join(work, 'j.tar.gz')],
      r.dir,
      work,
    );
    expect(j).toMatchObject({
      bundle: join(work, 'j.tar.gz'),
      nonce,
      source: { commit: r.commit, workdir: '.' },
      image: { name: 'go' },
      simulated: true,
    });
    expect(j.builder.pcr3).toMatch(/^[0-9a-f]{96}$/);
    expect(j.subjects).toEqual([
      { name: 'out.txt', digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown } },
    ]);
    expect((await cliVerify(j.bundle, nonce, r.commit, work)).code).toBe(0);
    expect((await cliVerify(j.bundle, 'cd'.repeat(20), r.commit, work)).code).toBe(1);
  });

  it('when the work tree is dirty, it refuses with SOURCE_DIRTY, and with --allow-dirty builds the committed tree', async () => {
    const r = await repo({ ...goProject('cat msg.txt > out.txt'), 'msg.txt': 'committed\n' });
    await writeFile(join(r.dir, 'msg.txt'), 'uncommitted\n');
    const refused = await cliBuild(['--local', '--out', join(work, 'd.tar.gz')], r.dir, work);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/SOURCE_DIRTY.*msg\.txt/);
    const built = await cliBuild(
      ['--local', '--allow-dirty', '--out', join(work, 'd.tar.gz')],
      r.dir,
      work,
    );
    expect(built.code).toBe(0);
    expect(built.stderr).toContain('building the committed tree only');
    const bundle = await readBundle(fileChunks(join(work, 'd.tar.gz')));
    expect(Buffer.from(bundle.artifacts.get('out.txt')!).toString()).toBe('committed\n');
  });

  it('when build.json is malformed, it refuses before starting an enclave, naming the field', async () => {
    const r = await repo({
      'go.mod': 'module example.com/t\n',
      'build.json': JSON.stringify({
        language: 'go',
        input: { cmd: 'true' },
        output: { files: [] },
      }),
    });
    const res = await cliBuild(['--local'], r.dir, work);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/CONFIG_INVALID \(output\.files\)/);
    expect(res.stderr).not.toContain('enclave');
  });

  it('when the build fails, it exits 1 with the code, the status and the end of the log', async () => {
    const r = await repo(goProject('echo compiling; echo "error: nope" >&2; exit 4'));
    const res = await cliBuild(['--local', '--out', join(work, 'f.tar.gz')], r.dir, work);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('BUILD_FAILED: the build command exited with status 4');
    expect(res.stderr).toMatch(
      /last lines of the build log:\n {2}\| compiling\n {2}\| error: nope/,
    );
  });

  it('when a flag is wrong or missing, it exits 2 with a usage message', async () => {
    const r = await repo(goProject('true'));
    expect((await cliBuild([], r.dir, work)).stderr).toMatch(/choose where to build: --local/);
    expect((await cliBuild(['--local', '--nonce', 'abc'], r.dir, work)).code).toBe(2);
    expect((await cliBuild(['--local', '--nonce', 'ab'], r.dir, work)).stderr).toMatch(
      /--nonce: expected 16 to 64 bytes/,
    );
    expect((await cliBuild(['--local', '--simulated-role', 'admin'], r.dir, work)).stderr).toMatch(
      /IAM role ARN/,
    );
    expect((await cliBuild(['--local', '--bogus'], r.dir, work)).code).toBe(2);
  });

  it('when the directory is not in a git repository, it exits 2 saying so', async () => {
    const plain = await mkdtemp(join(tmpdir(), 'tc-nogit-'));
    await writeFile(join(plain, 'build.json'), goProject('true')['build.json']!);
    const res = await cliBuild(['--local'], plain, work);
    await rm(plain, { recursive: true, force: true });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('SOURCE_NOT_GIT');
  });
});
