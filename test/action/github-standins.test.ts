/**
 * The stand-ins behave as GitHub does where the action could tell the difference, seen through the
 * clients the action uses (Octokit, @actions/artifact) and through raw HTTP.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { runArtifacts } from '../../src/action/artifacts.js';
import type { GitHubError } from '../../src/action/github.js';
import { octokitGitHub } from '../../src/action/github.js';
import { GitHubStandIn } from '../support/github/github-api.js';
import { ArtifactServiceStandIn } from '../support/github/github-artifacts.js';
import { tempDirSync } from '../support/temp.js';

const repo = { owner: 'example', repo: 'hello' };
let gh: GitHubStandIn;
let art: ArtifactServiceStandIn;
beforeAll(async () => {
  gh = await GitHubStandIn.start([
    { owner: 'example', repo: 'hello' },
    { owner: 'example', repo: 'frozen', immutableReleases: true },
    { owner: 'example', repo: 'private', public: false },
  ]);
  art = await ArtifactServiceStandIn.start();
});
afterAll(async () => {
  await gh?.stop();
  await art?.stop();
});

async function raw(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set('authorization', `token ${init.token}`);
  return fetch(gh.apiUrl + path, { ...init, headers, redirect: 'manual' });
}

describe('GitHub REST stand-in', () => {
  test('when a release is a draft, it hides it from "get by tag" and from listings without push access', async () => {
    gh.seedRelease('example/hello', { tag: 'v0.1.0', draft: true });
    const writer = gh.token({ repo: 'example/hello', contents: 'write' });
    const reader = gh.token({ repo: 'example/hello', contents: 'read' });
    expect((await raw('/repos/example/hello/releases/tags/v0.1.0', { token: writer })).status).toBe(
      404,
    );
    const listed = async (t: string) =>
      (
        (await (await raw('/repos/example/hello/releases', { token: t })).json()) as {
          tag_name: string;
        }[]
      ).map((r) => r.tag_name);
    expect(await listed(writer)).toContain('v0.1.0');
    expect(await listed(reader)).not.toContain('v0.1.0');
    expect(await octokitGitHub(writer, gh.apiUrl).findRelease(repo, 'v0.1.0')).toMatchObject({
      tagName: 'v0.1.0',
      draft: true,
    });
  });

  test('when an asset name is taken, it refuses the upload with 422 already_exists', async () => {
    const token = gh.token({ repo: 'example/hello', contents: 'write' });
    const api = octokitGitHub(token, gh.apiUrl);
    const rel = await api.createDraftRelease(repo, {
      tag: 'v0.2.0',
      targetCommitish: 'main',
      name: 'v0.2.0',
      body: '',
    });
    expect(rel.uploadUrl).toBe(
      `${gh.uploadsUrl}/repos/example/hello/releases/${rel.id}/assets{?name,label}`,
    );
    const first = await api.uploadAsset(
      rel,
      'a.bin',
      new Uint8Array([1, 2]),
      'application/octet-stream',
    );
    expect(first).toMatchObject({
      name: 'a.bin',
      size: 2,
      state: 'uploaded',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const err = (await api
      .uploadAsset(rel, 'a.bin', new Uint8Array([3]), 'application/octet-stream')
      .catch((e: unknown) => e)) as GitHubError;
    expect(err.status).toBe(422);
    expect(err.errorCodes).toEqual(['already_exists']);
    const body = (err.cause as { response: { data: unknown } }).response.data;
    expect(body).toMatchObject({
      message: 'Validation Failed',
      errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }],
    });
  });

  test('when an asset is downloaded as bytes, it redirects to a signed URL on another host', async () => {
    const token = gh.token({ repo: 'example/hello', contents: 'write' });
    const rel = gh.seedRelease('example/hello', {
      tag: 'v0.3.0',
      assets: [{ name: 'x.txt', bytes: Buffer.from('xyz') }],
    });
    const res = await raw(`/repos/example/hello/releases/assets/${rel.assets[0]!.id}`, {
      token,
      headers: { accept: 'application/octet-stream' },
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin).not.toBe(new URL(gh.apiUrl).origin);
    expect(await (await fetch(location)).text()).toBe('xyz');
    location.searchParams.set('sig', 'forged');
    expect((await fetch(location)).status).toBe(403);
    expect(
      Buffer.from(
        await octokitGitHub(token, gh.apiUrl).downloadAsset(repo, rel.assets[0]!.id),
      ).toString(),
    ).toBe('xyz');
  });

  test('when a release is published with immutability on, it refuses to add or delete assets', async () => {
    const token = gh.token({ repo: 'example/frozen', contents: 'write' });
    const api = octokitGitHub(token, gh.apiUrl);
    const frozen = { owner: 'example', repo: 'frozen' };
    const draft = await api.createDraftRelease(frozen, {
      tag: 'v1.0.0',
      targetCommitish: 'main',
      name: 'v1.0.0',
      body: '',
    });
    const asset = await api.uploadAsset(
      draft,
      'ok.bin',
      new Uint8Array([1]),
      'application/octet-stream',
    );
    const published = await api.publishRelease(frozen, draft.id);
    expect(published).toMatchObject({ draft: false, immutable: true });
    await expect(
      api.uploadAsset(published, 'late.bin', new Uint8Array([1]), 'application/octet-stream'),
    ).rejects.toThrow('HTTP 422 Cannot upload assets to an immutable release.');
    await expect(api.deleteAsset(frozen, asset.id)).rejects.toThrow('HTTP 422');
  });

  test('when a release has more assets than a page, it links the next page and the client reads all', async () => {
    const token = gh.token({ repo: 'example/hello', contents: 'read' });
    const rel = gh.seedRelease('example/hello', {
      tag: 'v0.4.0',
      assets: Array.from({ length: 130 }, (_, i) => ({ name: `f${i}`, bytes: Buffer.from([i]) })),
    });
    const first = await raw(`/repos/example/hello/releases/${rel.id}/assets?per_page=100`, {
      token,
    });
    expect(first.headers.get('link')).toContain('rel="next"');
    expect(await octokitGitHub(token, gh.apiUrl).listAssets(repo, rel.id)).toHaveLength(130);
  });

  test("when the token is wrong, lacks rights or the repository is private, it answers GitHub's statuses", async () => {
    expect(
      await (await raw('/repos/example/hello/releases', { token: 'ghs_wrong' })).json(),
    ).toMatchObject({ message: 'Bad credentials', status: '401' });
    const reader = gh.token({ repo: 'example/hello', contents: 'read' });
    const create = await raw('/repos/example/hello/releases', {
      token: reader,
      method: 'POST',
      body: JSON.stringify({ tag_name: 'v9' }),
    });
    expect(create.status).toBe(403);
    expect(await create.json()).toMatchObject({
      message: 'Resource not accessible by integration',
    });
    expect((await raw('/repos/example/private/releases', { token: reader })).status).toBe(404);
  });

  test('when a check run is completed without a conclusion, it is refused', async () => {
    const token = gh.token({ repo: 'example/hello', checks: 'write' });
    const created = await raw('/repos/example/hello/check-runs', {
      token,
      method: 'POST',
      body: JSON.stringify({ name: 'c', head_sha: 'a'.repeat(40), status: 'in_progress' }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    const bad = await raw(`/repos/example/hello/check-runs/${id}`, {
      token,
      method: 'PATCH',
      body: JSON.stringify({ status: 'completed' }),
    });
    expect(bad.status).toBe(422);
    const long = await raw(`/repos/example/hello/check-runs/${id}`, {
      token,
      method: 'PATCH',
      body: JSON.stringify({
        conclusion: 'success',
        output: { title: 't', summary: 'x'.repeat(65536) },
      }),
    });
    expect(long.status).toBe(422);
  });
});

describe('artifact service stand-in', () => {
  function useJob(job: ReturnType<ArtifactServiceStandIn['job']>): void {
    process.env.ACTIONS_RUNTIME_TOKEN = art.runtimeToken(job);
    process.env.ACTIONS_RESULTS_URL = art.resultsUrl;
  }

  test('when a job uploads, it lets another job of the run list and download it, and hides it from other runs', async () => {
    const dir = tempDirSync('art-');
    writeFileSync(join(dir, 'b.bundle.tar.gz'), 'bundle bytes');
    const builder = art.job();
    useJob(builder);
    const up = await runArtifacts().upload('tee-compile-x', [join(dir, 'b.bundle.tar.gz')], dir);
    expect(up.name).toBe('tee-compile-x');
    // Put Block and Put Block List on the blob host, then FinalizeArtifact.
    expect(
      art.requests
        .filter((r) => r.server === 'blob')
        .map((r) => new URL(r.path, 'http://x').searchParams.get('comp')),
    ).toEqual(['block', 'blocklist']);
    useJob(art.job(builder.runBackendId));
    const listed = await runArtifacts().list();
    expect(listed.map((a) => a.name)).toEqual(['tee-compile-x']);
    const into = tempDirSync('art-dl-');
    await runArtifacts().download(listed[0]!.id, into);
    expect(readFileSync(join(into, 'b.bundle.tar.gz'), 'utf8')).toBe('bundle bytes');
    useJob(art.job());
    expect(await runArtifacts().list()).toEqual([]);
  });

  test('when a name is taken in the run, it answers Twirp already_exists, and a forged token unauthenticated', async () => {
    const dir = tempDirSync('art-');
    writeFileSync(join(dir, 'f'), 'x');
    const job = art.job();
    useJob(job);
    await runArtifacts().upload('dup', [join(dir, 'f')], dir);
    const call = (token: string) =>
      fetch(`${art.resultsUrl}twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          workflow_run_backend_id: job.runBackendId,
          workflow_job_run_backend_id: job.jobBackendId,
          name: 'dup',
          version: 7,
        }),
      });
    const dup = await call(art.runtimeToken(job));
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({
      code: 'already_exists',
      msg: 'an artifact with this name already exists on the workflow run',
    });
    const forged = art.runtimeToken(job).replace(/\.[^.]+$/, '.forged');
    expect((await call(forged)).status).toBe(401);
    // Uploading again through the action replaces it (a re-run).
    writeFileSync(join(dir, 'f'), 'y');
    await runArtifacts().upload('dup', [join(dir, 'f')], dir);
    expect(art.artifactsOf(job.runBackendId).filter((a) => a.name === 'dup')).toHaveLength(1);
  });
});
