/**
 * The agent end to end with the real pipeline and the local backend, over real HTTP on loopback:
 * the curl forms (a zip made by `zip`, JSON with `source_data`), a `repo_url` cloned over git's
 * dumb HTTP protocol, the event stream read by a real SSE client, and every result checked by the
 * real verifier.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  followEvents,
  json,
  postBuild,
  removeDir,
  tempDir,
  TEST_TOKEN,
  waitFinished,
} from '../support/agent/agent-harness.js';
import { goProject, startPipelineAgent, verifyResult } from '../support/agent/agent-pipeline.js';
import {
  bareForDumbHttp,
  commitAll,
  curl,
  git,
  serveStatic,
  tarGzDir,
  writeProject,
  zipDir,
} from '../support/source/agent-sources.js';

let work: string;
let agent: TestAgent;
let repo: string;
let commit: string;
let served: { url: string; requests: string[]; close(): Promise<void> };

const nonceOf = (i: number): string => createHash('sha256').update(`nonce ${i}`).digest('hex');

async function result(id: string): Promise<Buffer> {
  const res = await agent.fetch(`/build/${id}/result`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

beforeAll(async () => {
  work = await tempDir('tc-agent-e2e-src-');
  repo = join(work, 'repo');
  await writeProject(
    repo,
    goProject('echo "built from $(cat message.txt)"; cat message.txt > out.txt'),
  );
  await writeProject(repo, { 'message.txt': 'hello from the agent test\n' });
  commit = await commitAll(repo);
  await bareForDumbHttp(repo, join(work, 'served', 'hello.git'));
  served = await serveStatic(join(work, 'served'));
  agent = await startPipelineAgent({ maxConcurrent: 2, allowHttpRepos: true });
});

afterAll(async () => {
  await agent.stop();
  await served.close();
  await removeDir(agent.dataDir);
  await removeDir(work);
});

describe('agent with the real pipeline (local backend)', () => {
  it('when curl posts a zip (made by zip) of a checkout, it builds the committed tree, binds the commit, and the bundle verifies', async () => {
    const zip = join(work, 'source.zip');
    await zipDir(repo, zip);
    const nonce = nonceOf(1);
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      `Authorization: Bearer ${TEST_TOKEN}`,
      '-F',
      `source=@${zip}`,
      '-F',
      `nonce=${nonce}`,
    ]);
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    const events = await followEvents(agent.url, job_id);
    const phases = events.filter((e) => e.type === 'phase').map((e) => e.data.phase);
    expect(phases).toEqual(
      expect.arrayContaining(['preparing', 'inputs-prepared', 'building', 'attesting']),
    );
    expect(
      events
        .filter((e) => e.type === 'log')
        .map((e) => e.data.text)
        .join('\n'),
    ).toContain('built from hello from the agent test');
    expect(events.at(-1)).toMatchObject({ type: 'complete', data: { ok: true } });
    const view = await json(await agent.fetch(`/build/${job_id}`));
    expect(view).toMatchObject({
      state: 'succeeded',
      source: { commit },
      subjects: [{ name: 'out.txt' }],
    });
    const bundle = await result(job_id);
    const v = await verifyResult(bundle, { nonce, commit });
    expect(v.simulated).toBe(true);
    expect(v.source.commit).toBe(commit);
    expect(v.subjects).toEqual([
      {
        name: 'out.txt',
        sha256: createHash('sha256').update('hello from the agent test\n').digest('hex'),
      },
    ]);
    expect((events.at(-1)!.data as { sha256: string }).sha256).toBe(
      createHash('sha256').update(bundle).digest('hex'),
    );
  });

  it('when JSON carries a .tar.gz without .git as source_data, it binds the tree only (commit null)', async () => {
    const plain = join(work, 'plain');
    await writeProject(plain, goProject('cat message.txt > out.txt'));
    await writeProject(plain, { 'message.txt': 'no git here\n' });
    const tgz = join(work, 'plain.tar.gz');
    await tarGzDir(plain, tgz);
    const nonce = nonceOf(2);
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      `Authorization: Bearer ${TEST_TOKEN}`,
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      JSON.stringify({
        nonce,
        source_data: (await readFile(tgz)).toString('base64'),
        source_name: 'plain.tar.gz',
      }),
    ]);
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    const view = await waitFinished(agent.fetch, job_id);
    expect(view).toMatchObject({ state: 'succeeded', source: { commit: null } });
    // The tree id is git's own for these files.
    const check = join(work, 'plain-git');
    await writeProject(check, {
      ...goProject('cat message.txt > out.txt'),
      'message.txt': 'no git here\n',
    });
    await commitAll(check);
    const tree = await git(check, 'rev-parse', 'HEAD^{tree}');
    const v = await verifyResult(await result(job_id), { nonce });
    expect(v.source).toEqual({ repository: null, commit: null, tree });
  });

  it('when repo_url names a repository served over dumb HTTP, it clones it (branch, then commit id) and builds that commit', async () => {
    const byBranch = await postBuild(agent, {
      nonce: nonceOf(3),
      repo_url: `${served.url}/hello.git`,
      repo_ref: 'main',
    });
    const byCommit = await postBuild(agent, {
      nonce: nonceOf(4),
      repo_url: `${served.url}/hello.git`,
      repo_ref: commit,
    });
    expect([byBranch.status, byCommit.status]).toEqual([202, 202]);
    const a = (await json<{ job_id: string }>(byBranch)).job_id;
    const b = (await json<{ job_id: string }>(byCommit)).job_id;
    for (const [id, n] of [
      [a, 3],
      [b, 4],
    ] as const) {
      expect(await waitFinished(agent.fetch, id)).toMatchObject({
        state: 'succeeded',
        source: { commit },
      });
      const v = await verifyResult(await result(id), { nonce: nonceOf(n), commit });
      // Recorded as the URL it was cloned from, scheme and port included.
      expect(v.source.repository).toBe(`${served.url}/hello.git`);
    }
    // git really spoke the dumb protocol to the static server.
    expect(served.requests).toContain('/hello.git/info/refs');
  });

  it('when repo_url names a branch that does not exist, the job fails with clone_failed', async () => {
    const res = await postBuild(agent, {
      repo_url: `${served.url}/hello.git`,
      repo_ref: 'no-such-branch',
    });
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { type: 'clone_failed', code: 'AGENT_CLONE_FAILED' },
    });
  });

  it('when the client sends its own dependency set, it is used as sent (the enclave checks it)', async () => {
    const { writeTarFile } = await import('../../src/archive/node.js');
    const emptySet = join(work, 'deps.tar');
    await writeTarFile([], emptySet);
    const form = new FormData();
    form.append('nonce', nonceOf(5));
    form.append('source', new Blob([await readFile(join(work, 'source.zip'))]), 'source.zip');
    form.append('dependencies', new Blob([await readFile(emptySet)]), 'deps.tar');
    const res = await agent.fetch('/build', { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: { commit },
    });
    await verifyResult(await result(job_id), { nonce: nonceOf(5), commit });
  });

  it('when an uploaded .git config names commands (fsmonitor, hooks), git never runs them and the build still binds the commit', async () => {
    const hostile = join(work, 'hostile');
    await writeProject(hostile, goProject('cat message.txt > out.txt'));
    await writeProject(hostile, { 'message.txt': 'hostile\n' });
    const hostileCommit = await commitAll(hostile);
    const marker = join(work, 'fsmonitor-ran');
    await git(hostile, 'config', 'core.fsmonitor', `touch ${marker}; false`);
    await git(hostile, 'config', 'core.hooksPath', '.git/evil-hooks');
    await writeProject(hostile, {
      '.git/evil-hooks/post-checkout': `#!/bin/sh\ntouch ${marker}\n`,
    });
    const zip = join(work, 'hostile.zip');
    await zipDir(hostile, zip);
    const res = await postBuild(agent, {
      nonce: nonceOf(6),
      source_data: (await readFile(zip)).toString('base64'),
    });
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: { commit: hostileCommit },
    });
    await expect(readFile(marker)).rejects.toHaveCode('ENOENT');
  });

  it('when an uploaded .git is a gitdir link to elsewhere on the host, the job fails with source_invalid', async () => {
    const linked = join(work, 'linked');
    await writeProject(linked, { ...goProject('true'), '.git': `gitdir: ${repo}/.git\n` });
    const tgz = join(work, 'linked.tar.gz');
    await tarGzDir(linked, tgz);
    const res = await postBuild(agent, { source_data: (await readFile(tgz)).toString('base64') });
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { type: 'source_invalid', code: 'AGENT_SOURCE_INVALID' },
    });
  });

  it('when curl posts a checkout whose build.json is in a subdirectory, with workdir and repository, the bundle records both and verifies against the repository', async () => {
    const nested = join(work, 'nested');
    await writeProject(nested, {
      'README.md': '# several projects\n',
      ...Object.fromEntries(
        Object.entries(goProject('cat message.txt > out.txt')).map(([k, v]) => [
          `examples/hello/${k}`,
          v,
        ]),
      ),
      'examples/hello/message.txt': 'built in a subdirectory\n',
    });
    const nestedCommit = await commitAll(nested);
    const zip = join(work, 'nested.zip');
    await zipDir(nested, zip);
    const nonce = nonceOf(20);
    const repository = 'https://github.com/example/nested';
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      `Authorization: Bearer ${TEST_TOKEN}`,
      '-F',
      `nonce=${nonce}`,
      '-F',
      'workdir=examples/hello',
      '-F',
      `repository=${repository}`,
      '-F',
      `source=@${zip}`,
    ]);
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: { workdir: 'examples/hello', repository, commit: nestedCommit },
    });
    const bundle = await result(job_id);
    const v = await verifyResult(bundle, { nonce, commit: nestedCommit, repository });
    expect(v.source).toMatchObject({ repository, commit: nestedCommit });
    const ep = v.statement.predicate.buildDefinition.externalParameters;
    expect(ep.workdir).toBe('examples/hello');
    expect(ep.source.repository).toBe(repository);
    // Outputs are named from the source root.
    expect(v.subjects).toEqual([
      {
        name: 'examples/hello/out.txt',
        sha256: createHash('sha256').update('built in a subdirectory\n').digest('hex'),
      },
    ]);
    // The repository is checked, not only shown: another one is refused.
    await expect(
      verifyResult(bundle, { nonce, repository: 'https://github.com/example/other' }),
    ).rejects.toThrow(/REPOSITORY_MISMATCH/);
  });

  it("when JSON carries files without .git, a workdir, a config and a repository, the config is that directory's build.json and the tree is the whole source's", async () => {
    const files = {
      'README.md': '# plain files\n',
      'tools/gen/go.mod': 'module example.com/gen\n\ngo 1.19\n',
      // Replaced by the config sent: this command would fail the build.
      'tools/gen/build.json': goProject('exit 7')['build.json']!,
      'tools/gen/message.txt': 'from the override\n',
    };
    const plain = join(work, 'plain-nested');
    await writeProject(plain, files);
    const tgz = join(work, 'plain-nested.tar.gz');
    await tarGzDir(plain, tgz);
    const nonce = nonceOf(21);
    const repository = 'https://git.example.org/tools/gen';
    const override = JSON.parse(goProject('cat message.txt > out.txt')['build.json']!) as Record<
      string,
      unknown
    >;
    const res = await postBuild(agent, {
      nonce,
      source_data: (await readFile(tgz)).toString('base64'),
      workdir: 'tools/gen',
      config: override,
      repository,
    });
    expect(res.status).toBe(202);
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({ state: 'succeeded' });
    const check = join(work, 'plain-nested-git');
    await writeProject(check, files);
    await commitAll(check);
    const tree = await git(check, 'rev-parse', 'HEAD^{tree}');
    const v = await verifyResult(await result(job_id), { nonce, repository });
    expect(v.source).toEqual({ repository, commit: null, tree });
    const ep = v.statement.predicate.buildDefinition.externalParameters;
    expect(ep.workdir).toBe('tools/gen');
    expect(ep.config.input.cmd).toBe('cat message.txt > out.txt');
    expect(v.subjects.map((s) => s.name)).toEqual(['tools/gen/out.txt']);
  });

  it('when the workdir is in the archive but not in the commit, the enclave refuses it and the job fails cleanly', async () => {
    const dirty = join(work, 'dirty');
    await writeProject(dirty, goProject('true'));
    await commitAll(dirty);
    // Beside the commit, not in it: the committed tree is what is built.
    await writeProject(dirty, {
      'extra/go.mod': 'module example.com/extra\n\ngo 1.19\n',
      'extra/build.json': goProject('true')['build.json']!,
    });
    const zip = join(work, 'dirty.zip');
    await zipDir(dirty, zip);
    const res = await postBuild(agent, {
      source_data: (await readFile(zip)).toString('base64'),
      workdir: 'extra',
    });
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { type: 'build_failed', code: 'WORKDIR_INVALID' },
    });
  });

  it('when 4 builds are submitted at once with --max-concurrent 2, all finish, each result verifies with its own nonce, and all differ', async () => {
    const zip = join(work, 'source.zip');
    const data = (await readFile(zip)).toString('base64');
    const nonces = [10, 11, 12, 13].map(nonceOf);
    const ids = await Promise.all(
      nonces.map(async (nonce) => {
        const res = await postBuild(agent, { nonce, source_data: data });
        expect(res.status).toBe(202);
        return (await json<{ job_id: string }>(res)).job_id;
      }),
    );
    const digests = new Set<string>();
    for (const [i, id] of ids.entries()) {
      expect((await waitFinished(agent.fetch, id)).state).toBe('succeeded');
      const bundle = await result(id);
      const v = await verifyResult(bundle, { nonce: nonces[i]!, commit });
      expect(v.nonce).toBe(nonces[i]);
      digests.add(createHash('sha256').update(bundle).digest('hex'));
    }
    expect(digests.size).toBe(4);
    const metrics = await (await agent.fetch('/metrics')).text();
    expect(metrics).toMatch(/^tee_compile_agent_running_enclaves 0$/m);
  });
});
