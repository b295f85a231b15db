/**
 * The parts of GitHub's REST API the action uses (releases, release assets, check runs), behind a
 * small typed interface over Octokit. Failures become `GitHubError`s that say what was being done,
 * GitHub's status and message, and which permission a 403 usually means.
 */
import { getOctokit } from '@actions/github';
import type { RepoRef } from './context.js';
import { ActionError } from './errors.js';

/** Releases searched for a draft of a tag (drafts are not found by tag; they are listed). */
export const MAX_RELEASE_PAGES = 10;

/** A release. */
export interface Release {
  id: number;
  tagName: string;
  name: string | null;
  draft: boolean;
  /** Published with immutable releases on: its assets can no longer change. */
  immutable: boolean;
  htmlUrl: string;
  /** The URI template assets are uploaded to (on the uploads host). */
  uploadUrl: string;
}

/** A release asset. */
export interface ReleaseAsset {
  id: number;
  name: string;
  size: number;
  /** Hex SHA-256 as GitHub computed it at upload, or null (older assets have none). */
  sha256: string | null;
  state: string;
  browserDownloadUrl: string;
}

/** The output shown on a check run. */
export interface CheckOutput {
  title: string;
  summary: string;
  text?: string;
}

/** A check run's ending. */
export type CheckConclusion = 'success' | 'failure' | 'cancelled' | 'neutral';

/** What the action asks of GitHub. */
export interface GitHubApi {
  /** The release of `tag`: the published one, else a draft with that tag; null when none. */
  findRelease(repo: RepoRef, tag: string): Promise<Release | null>;
  createDraftRelease(
    repo: RepoRef,
    o: { tag: string; targetCommitish: string; name: string; body: string },
  ): Promise<Release>;
  publishRelease(repo: RepoRef, id: number): Promise<Release>;
  deleteRelease(repo: RepoRef, id: number): Promise<void>;
  listAssets(repo: RepoRef, releaseId: number): Promise<ReleaseAsset[]>;
  uploadAsset(
    release: Release,
    name: string,
    bytes: Uint8Array,
    contentType: string,
  ): Promise<ReleaseAsset>;
  deleteAsset(repo: RepoRef, assetId: number): Promise<void>;
  downloadAsset(repo: RepoRef, assetId: number): Promise<Uint8Array>;
  createCheckRun(
    repo: RepoRef,
    o: { name: string; headSha: string; detailsUrl?: string; output: CheckOutput },
  ): Promise<number>;
  completeCheckRun(
    repo: RepoRef,
    id: number,
    o: { conclusion: CheckConclusion; output: CheckOutput },
  ): Promise<void>;
}

/** A failed GitHub API call. */
export class GitHubError extends ActionError {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCodes: string[],
    cause: unknown,
  ) {
    super('GITHUB_FAILED', message, { cause });
  }
}

interface HttpErrorLike {
  status?: unknown;
  message?: unknown;
  response?: { data?: unknown };
}

function githubError(what: string, e: unknown, permission: string): unknown {
  const err = e as HttpErrorLike;
  if (typeof err?.status !== 'number') {
    return new GitHubError(`${what}: ${(e as Error)?.message ?? String(e)}`, 0, [], e);
  }
  const data = err.response?.data as
    { message?: unknown; errors?: { code?: unknown; message?: unknown }[] } | undefined;
  const message = typeof data?.message === 'string' ? data.message : String(err.message);
  const codes = Array.isArray(data?.errors)
    ? data.errors.map((x) => (typeof x.code === 'string' ? x.code : '')).filter((c) => c !== '')
    : [];
  const details = Array.isArray(data?.errors)
    ? data.errors.map((x) => (typeof x.message === 'string' ? x.message : x.code)).filter(Boolean)
    : [];
  const hint =
    err.status === 403 || err.status === 404
      ? ` (does the token have ${permission}? set it under permissions: in the workflow)`
      : '';
  return new GitHubError(
    `${what}: HTTP ${err.status} ${message}${details.length > 0 ? ` (${details.join('; ')})` : ''}${hint}`,
    err.status,
    codes,
    e,
  );
}

interface RawRelease {
  id: number;
  tag_name: string;
  name?: string | null;
  draft: boolean;
  immutable?: boolean;
  html_url: string;
  upload_url: string;
}

interface RawAsset {
  id: number;
  name: string;
  size: number;
  digest?: string | null;
  state: string;
  browser_download_url: string;
}

function release(r: RawRelease): Release {
  return {
    id: r.id,
    tagName: r.tag_name,
    name: r.name ?? null,
    draft: r.draft,
    immutable: r.immutable === true,
    htmlUrl: r.html_url,
    uploadUrl: r.upload_url,
  };
}

function asset(a: RawAsset): ReleaseAsset {
  const digest = typeof a.digest === 'string' ? /^sha256:([0-9a-f]{64})$/.exec(a.digest) : null;
  return {
    id: a.id,
    name: a.name,
    size: a.size,
    sha256: digest?.[1] ?? null,
    state: a.state,
    browserDownloadUrl: a.browser_download_url,
  };
}

/** A GitHub API for a step without a token: every call says which input is missing. */
function noToken(): GitHubApi {
  const refuse = (): Promise<never> =>
    Promise.reject(
      new ActionError('INPUT_INVALID', 'input "github-token": empty, and this step needs GitHub', {
        path: 'github-token',
      }),
    );
  return {
    findRelease: refuse,
    createDraftRelease: refuse,
    publishRelease: refuse,
    deleteRelease: refuse,
    listAssets: refuse,
    uploadAsset: refuse,
    deleteAsset: refuse,
    downloadAsset: refuse,
    createCheckRun: refuse,
    completeCheckRun: refuse,
  };
}

/** The GitHub API over Octokit, authenticated with `token`, at `baseUrl` (GITHUB_API_URL). */
export function octokitGitHub(token: string, baseUrl: string): GitHubApi {
  if (token === '') return noToken();
  const octokit = getOctokit(token, { baseUrl, userAgent: 'tee-compile-action' });
  const call = async <T>(what: string, permission: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw githubError(what, e, permission);
    }
  };
  const READ = 'contents: read';
  const WRITE = 'contents: write';
  return {
    async findRelease(repo, tag) {
      try {
        const r = await octokit.rest.repos.getReleaseByTag({ ...repo, tag });
        return release(r.data);
      } catch (e) {
        if ((e as HttpErrorLike).status !== 404)
          throw githubError(`reading the release ${tag}`, e, READ);
      }
      // Drafts have no tag yet as far as "get by tag" is concerned: look for one in the list.
      // Of several drafts of one tag (builders that created theirs at once), the oldest wins, so
      // that every builder settles on the same one.
      return call(`listing the releases of ${repo.owner}/${repo.repo}`, READ, async () => {
        let pages = 0;
        let oldest: RawRelease | null = null;
        for await (const page of octokit.paginate.iterator(octokit.rest.repos.listReleases, {
          ...repo,
          per_page: 100,
        })) {
          for (const r of page.data as RawRelease[])
            if (r.tag_name === tag && r.draft && (oldest === null || r.id < oldest.id)) oldest = r;
          if (++pages >= MAX_RELEASE_PAGES) break;
        }
        return oldest === null ? null : release(oldest);
      });
    },
    createDraftRelease: (repo, o) =>
      call(`creating a draft release for ${o.tag}`, WRITE, async () => {
        const r = await octokit.rest.repos.createRelease({
          ...repo,
          tag_name: o.tag,
          target_commitish: o.targetCommitish,
          name: o.name,
          body: o.body,
          draft: true,
        });
        return release(r.data);
      }),
    publishRelease: (repo, id) =>
      call('publishing the release', WRITE, async () => {
        const r = await octokit.rest.repos.updateRelease({ ...repo, release_id: id, draft: false });
        return release(r.data);
      }),
    deleteRelease: (repo, id) =>
      call('deleting a duplicate draft release', WRITE, async () => {
        await octokit.rest.repos.deleteRelease({ ...repo, release_id: id });
      }),
    listAssets: (repo, releaseId) =>
      call('listing the release assets', READ, async () => {
        const all = await octokit.paginate(octokit.rest.repos.listReleaseAssets, {
          ...repo,
          release_id: releaseId,
          per_page: 100,
        });
        return (all as RawAsset[]).map(asset);
      }),
    uploadAsset: (rel, name, bytes, contentType) =>
      call(`uploading ${name}`, WRITE, async () => {
        // The release's own upload URL: the uploads host differs from the API host (and on GHES).
        const r = await octokit.request({
          method: 'POST',
          url: rel.uploadUrl,
          name,
          data: bytes,
          headers: { 'content-type': contentType, 'content-length': bytes.length },
        });
        return asset(r.data as RawAsset);
      }),
    deleteAsset: (repo, assetId) =>
      call('deleting a release asset', WRITE, async () => {
        await octokit.rest.repos.deleteReleaseAsset({ ...repo, asset_id: assetId });
      }),
    downloadAsset: (repo, assetId) =>
      call('downloading a release asset', READ, async () => {
        const r = await octokit.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
          ...repo,
          asset_id: assetId,
          headers: { accept: 'application/octet-stream' },
        });
        const data = r.data as unknown;
        if (data instanceof ArrayBuffer) return new Uint8Array(data);
        if (typeof data === 'string') return new TextEncoder().encode(data);
        throw new Error('the asset did not arrive as bytes');
      }),
    createCheckRun: (repo, o) =>
      call('creating the check run', 'checks: write', async () => {
        const r = await octokit.rest.checks.create({
          ...repo,
          name: o.name,
          head_sha: o.headSha,
          status: 'in_progress',
          started_at: new Date().toISOString(),
          ...(o.detailsUrl === undefined ? {} : { details_url: o.detailsUrl }),
          output: o.output,
        });
        return r.data.id;
      }),
    completeCheckRun: (repo, id, o) =>
      call('completing the check run', 'checks: write', async () => {
        await octokit.rest.checks.update({
          ...repo,
          check_run_id: id,
          status: 'completed',
          conclusion: o.conclusion,
          completed_at: new Date().toISOString(),
          output: o.output,
        });
      }),
  };
}
