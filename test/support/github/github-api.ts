/**
 * A stand-in for the parts of GitHub's REST API the action uses, faithful to the real one where
 * clients can tell: the API host, the uploads host (`POST /repos/{o}/{r}/releases/{id}/assets?name=`,
 * reached through the release's `upload_url`) and the object host asset downloads redirect to,
 * as three origins; GitHub's JSON shapes, status codes and error bodies
 * (`{"message","documentation_url","status"}`, 422 `Validation Failed` with
 * `errors: [{resource, code, field}]`); drafts invisible to "get by tag" and to tokens without
 * push access; asset `digest`; immutable releases (`422 Cannot upload assets to an immutable
 * release.`); pagination with `Link`; check runs with their validation. Shared by all tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Listening, LoggedRequest } from './github-http.js';
import { CheckRuns } from './github-checks.js';
import { RunnerRegistry } from './github-runners.js';
import type { StoredCheckRun } from './github-checks.js';
import { HttpFailure, Signer, listen, readBody } from './github-http.js';
import { DOCS, fail, iso, validation } from './github-errors.js';

export type { StoredCheckRun } from './github-checks.js';

/** Lifetime of a signed asset download URL (GitHub's are short-lived). */
const DOWNLOAD_URL_MS = 5 * 60_000;

/** What a token may do in one repository (the `permissions:` of a workflow token). */
export interface TokenGrant {
  repo: string;
  contents?: 'read' | 'write';
  checks?: 'write';
  /** Repository administration (self-hosted runners of the repository). */
  administration?: 'write';
  /** Organisation self-hosted runners, for the organisation that owns `repo`. */
  orgRunners?: 'write';
}

export interface StandInRepo {
  owner: string;
  repo: string;
  /** Public repositories are readable by every valid token. Default true. */
  public?: boolean;
  /** The repository setting "Enable release immutability". */
  immutableReleases?: boolean;
}

export interface StoredAsset {
  id: number;
  name: string;
  label: string | null;
  contentType: string;
  bytes: Buffer;
  state: 'uploaded';
  createdAt: string;
  downloads: number;
}

export interface StoredRelease {
  id: number;
  repo: string;
  tagName: string;
  targetCommitish: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  immutable: boolean;
  createdAt: string;
  publishedAt: string | null;
  assets: StoredAsset[];
}

interface RepoState extends Required<StandInRepo> {
  id: number;
  tags: Map<string, string>;
  usedByImmutable: Set<string>;
}

/** GitHub renames asset files: special characters become `.`, and leading or trailing dots go. */
export function githubAssetName(name: string): string {
  return name.replace(/[^A-Za-z0-9._+-]/g, '.').replace(/^\.+|\.+$/g, '') || 'default';
}

/** Options of the stand-in. */
export interface StandInOptions {
  /**
   * GITHUB_SERVER_URL: the web host that `html_url`s name (never served: clients only build
   * links and repository URLs from it). Default https://github.com.
   */
  serverUrl?: string;
}

/** The stand-in: three servers and the state behind them. */
export class GitHubStandIn {
  readonly requests: LoggedRequest[] = [];
  /** GITHUB_SERVER_URL (see `StandInOptions`). */
  serverUrl = 'https://github.com';
  private readonly repos = new Map<string, RepoState>();
  private readonly tokens = new Map<string, TokenGrant[]>();
  private readonly releases: StoredRelease[] = [];
  private readonly checks = new CheckRuns(
    () => this.nextId++,
    () => iso(this.now()),
    () => this.serverUrl,
  );
  /** Self-hosted runners (./github-runners.ts). */
  readonly runners = new RunnerRegistry(() => this.nextId++);
  private readonly signer = new Signer();
  private nextId = 1000;
  private clock = Date.UTC(2026, 10, 1, 12, 0, 0);
  private api!: Listening;
  private uploads!: Listening;
  private objects!: Listening;

  /** GITHUB_API_URL. */
  get apiUrl(): string {
    return this.api.url;
  }

  /** The uploads host (what `upload_url` points at). */
  get uploadsUrl(): string {
    return this.uploads.url;
  }

  static async start(repos: StandInRepo[], o: StandInOptions = {}): Promise<GitHubStandIn> {
    const gh = new GitHubStandIn();
    if (o.serverUrl !== undefined) gh.serverUrl = o.serverUrl;
    for (const r of repos) gh.addRepo(r);
    const onError = (res: ServerResponse, e: unknown): void => gh.sendError(res, e);
    gh.api = await listen('api', gh.requests, (q, s, u) => gh.handleApi(q, s, u), onError);
    gh.uploads = await listen(
      'uploads',
      gh.requests,
      (q, s, u) => gh.handleUpload(q, s, u),
      onError,
    );
    gh.objects = await listen(
      'objects',
      gh.requests,
      (q, s, u) => gh.handleObject(q, s, u),
      onError,
    );
    return gh;
  }

  async stop(): Promise<void> {
    await Promise.all([this.api.close(), this.uploads.close(), this.objects.close()]);
  }

  addRepo(r: StandInRepo): void {
    this.repos.set(`${r.owner}/${r.repo}`.toLowerCase(), {
      owner: r.owner,
      repo: r.repo,
      public: r.public ?? true,
      immutableReleases: r.immutableReleases ?? false,
      id: this.nextId++,
      tags: new Map(),
      usedByImmutable: new Set(),
    });
  }

  /** Issues a token (like a workflow's GITHUB_TOKEN with the given permissions). */
  token(...grants: TokenGrant[]): string {
    const t = `ghs_${randomBytes(18).toString('base64url')}`;
    this.tokens.set(
      t,
      grants.map((g) => ({ ...g, repo: g.repo.toLowerCase() })),
    );
    return t;
  }

  /** Releases of a repository, newest first (what a test inspects). */
  releasesOf(repo: string): StoredRelease[] {
    return this.releases.filter((r) => r.repo === repo.toLowerCase()).sort((a, b) => b.id - a.id);
  }

  checkRunsOf(repo: string): StoredCheckRun[] {
    return this.checks.of(repo);
  }

  /** Adds a release directly (a test's starting point), e.g. a published one with assets. */
  seedRelease(
    repo: string,
    o: {
      tag: string;
      draft?: boolean;
      commit?: string;
      assets?: { name: string; bytes: Uint8Array }[];
    },
  ): StoredRelease {
    const state = this.repoState(repo);
    const draft = o.draft ?? false;
    const rel = this.newRelease(state, {
      tag_name: o.tag,
      target_commitish: o.commit ?? 'main',
      name: o.tag,
      draft,
    });
    for (const a of o.assets ?? [])
      rel.assets.push(
        this.newAsset(a.name, Buffer.from(a.bytes), 'application/octet-stream', null),
      );
    if (!draft) this.publish(state, rel);
    return rel;
  }

  /** Replaces an asset's bytes behind the API's back (tampering tests). */
  tamper(releaseId: number, name: string, bytes: Uint8Array): void {
    const a = this.releases.find((r) => r.id === releaseId)?.assets.find((x) => x.name === name);
    if (a === undefined) throw new Error(`no asset ${name}`);
    a.bytes = Buffer.from(bytes);
  }

  // ---- plumbing ----

  private now(): number {
    this.clock += 1000;
    return this.clock;
  }

  private repoState(full: string): RepoState {
    const s = this.repos.get(full.toLowerCase());
    if (s === undefined) throw new Error(`the stand-in has no repository ${full}`);
    return s;
  }

  private sendError(res: ServerResponse, e: unknown): void {
    if (e instanceof HttpFailure) return this.json(res, e.status, e.body, e.headers);
    this.json(res, 500, { message: `stand-in error: ${(e as Error)?.message ?? String(e)}` });
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...(text === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'content-length': Buffer.byteLength(text),
      'x-github-api-version-selected': '2022-11-28',
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '4999',
      'x-ratelimit-reset': String(Math.floor(this.clock / 1000) + 3600),
      'x-ratelimit-resource': 'core',
      ...headers,
    });
    res.end(text);
  }

  /** The grants of the request's token; 401 for a wrong one, null for none. */
  private auth(req: IncomingMessage): TokenGrant[] | null {
    const h = req.headers.authorization;
    if (h === undefined) return null;
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(h);
    const grants = m === null ? undefined : this.tokens.get(m[1]!);
    if (grants === undefined) throw fail(401, 'Bad credentials');
    return grants;
  }

  private allowed(
    grants: TokenGrant[] | null,
    repo: RepoState,
    need: 'read' | 'write' | 'checks',
  ): boolean {
    const full = `${repo.owner}/${repo.repo}`.toLowerCase();
    const g = grants?.find((x) => x.repo === full);
    if (need === 'checks') return g?.checks === 'write';
    if (need === 'read') return repo.public || g?.contents !== undefined;
    return g?.contents === 'write';
  }

  /** Finds the repository and checks access (404 when it must not be seen, 403 when read-only). */
  private access(
    grants: TokenGrant[] | null,
    owner: string,
    repo: string,
    need: 'read' | 'write' | 'checks',
    docs: string,
  ): RepoState {
    const state = this.repos.get(`${owner}/${repo}`.toLowerCase());
    if (state === undefined || !this.allowed(grants, state, 'read'))
      throw fail(404, 'Not Found', docs);
    if (need !== 'read' && !this.allowed(grants, state, need))
      throw fail(403, 'Resource not accessible by integration', docs);
    return state;
  }

  private async jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const text = (await readBody(req, 1024 * 1024)).toString('utf8');
    if (text === '') return {};
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v === 'object' && v !== null && !Array.isArray(v))
        return v as Record<string, unknown>;
    } catch {
      // answered below
    }
    throw fail(400, 'Problems parsing JSON');
  }

  private page<T>(
    res: ServerResponse,
    url: URL,
    base: string,
    items: T[],
    render: (x: T) => unknown,
  ): void {
    const perPage = Math.min(
      100,
      Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30),
    );
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (p: number): string => `<${base}${url.pathname}?per_page=${perPage}&page=${p}>`;
    const links: string[] = [];
    if (page < last) links.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) links.push(`${link(1)}; rel="first"`, `${link(page - 1)}; rel="prev"`);
    this.json(
      res,
      200,
      items.slice((page - 1) * perPage, page * perPage).map(render),
      links.length > 0 ? { link: links.join(', ') } : {},
    );
  }

  // ---- representations ----

  private user(): Record<string, unknown> {
    return { login: 'github-actions[bot]', id: 41898282, type: 'Bot', site_admin: false };
  }

  private assetJson(rel: StoredRelease, a: StoredAsset): Record<string, unknown> {
    const [owner, repo] = rel.repo.split('/');
    return {
      url: `${this.api.url}/repos/${owner}/${repo}/releases/assets/${a.id}`,
      id: a.id,
      node_id: `RA_${Buffer.from(String(a.id)).toString('base64url')}`,
      name: a.name,
      label: a.label ?? '',
      uploader: this.user(),
      content_type: a.contentType,
      state: a.state,
      size: a.bytes.length,
      digest: `sha256:${createHash('sha256').update(a.bytes).digest('hex')}`,
      download_count: a.downloads,
      created_at: a.createdAt,
      updated_at: a.createdAt,
      browser_download_url: `${this.serverUrl}/${rel.repo}/releases/download/${encodeURIComponent(rel.tagName)}/${encodeURIComponent(a.name)}`,
    };
  }

  private releaseJson(rel: StoredRelease): Record<string, unknown> {
    const [owner, repo] = rel.repo.split('/');
    const base = `${this.api.url}/repos/${owner}/${repo}/releases/${rel.id}`;
    const htmlTag = rel.draft
      ? `untagged-${createHash('sha1').update(String(rel.id)).digest('hex').slice(0, 20)}`
      : rel.tagName;
    return {
      url: base,
      assets_url: `${base}/assets`,
      upload_url: `${this.uploads.url}/repos/${owner}/${repo}/releases/${rel.id}/assets{?name,label}`,
      html_url: `${this.serverUrl}/${rel.repo}/releases/tag/${encodeURIComponent(htmlTag)}`,
      id: rel.id,
      author: this.user(),
      node_id: `RE_${Buffer.from(String(rel.id)).toString('base64url')}`,
      tag_name: rel.tagName,
      target_commitish: rel.targetCommitish,
      name: rel.name,
      draft: rel.draft,
      immutable: rel.immutable,
      prerelease: rel.prerelease,
      created_at: rel.createdAt,
      updated_at: rel.createdAt,
      published_at: rel.publishedAt,
      assets: rel.assets.map((a) => this.assetJson(rel, a)),
      tarball_url: `${this.api.url}/repos/${owner}/${repo}/tarball/${rel.tagName}`,
      zipball_url: `${this.api.url}/repos/${owner}/${repo}/zipball/${rel.tagName}`,
      body: rel.body,
    };
  }

  // ---- state changes ----

  private newRelease(state: RepoState, b: Record<string, unknown>): StoredRelease {
    const rel: StoredRelease = {
      id: this.nextId++,
      repo: `${state.owner}/${state.repo}`.toLowerCase(),
      tagName: String(b.tag_name),
      targetCommitish: typeof b.target_commitish === 'string' ? b.target_commitish : 'main',
      name: typeof b.name === 'string' ? b.name : null,
      body: typeof b.body === 'string' ? b.body : null,
      draft: b.draft === true,
      prerelease: b.prerelease === true,
      immutable: false,
      createdAt: iso(this.now()),
      publishedAt: null,
      assets: [],
    };
    this.releases.push(rel);
    return rel;
  }

  private publish(state: RepoState, rel: StoredRelease): void {
    rel.draft = false;
    rel.publishedAt = iso(this.now());
    if (!state.tags.has(rel.tagName)) state.tags.set(rel.tagName, rel.targetCommitish);
    if (state.immutableReleases) {
      rel.immutable = true;
      state.usedByImmutable.add(rel.tagName);
    }
  }

  private newAsset(
    name: string,
    bytes: Buffer,
    contentType: string,
    label: string | null,
  ): StoredAsset {
    return {
      id: this.nextId++,
      name,
      label,
      contentType,
      bytes,
      state: 'uploaded',
      createdAt: iso(this.now()),
      downloads: 0,
    };
  }

  private visibleRelease(
    grants: TokenGrant[] | null,
    state: RepoState,
    id: number,
    docs: string,
  ): StoredRelease {
    const full = `${state.owner}/${state.repo}`.toLowerCase();
    const rel = this.releases.find((r) => r.id === id && r.repo === full);
    // Drafts exist only for those with push access.
    if (rel === undefined || (rel.draft && !this.allowed(grants, state, 'write')))
      throw fail(404, 'Not Found', docs);
    return rel;
  }

  private findAsset(
    state: RepoState,
    id: number,
  ): { rel: StoredRelease; asset: StoredAsset } | null {
    const full = `${state.owner}/${state.repo}`.toLowerCase();
    for (const rel of this.releases) {
      if (rel.repo !== full) continue;
      const asset = rel.assets.find((a) => a.id === id);
      if (asset !== undefined) return { rel, asset };
    }
    return null;
  }

  // ---- the API host ----

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const p = url.pathname;
    let m: RegExpExecArray | null;
    if (p.startsWith('/_runner-standin/')) {
      const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString('utf8'));
      const [status, json] = this.runners.handleRunner(method, p, form, req.headers.authorization);
      return this.json(res, status, json);
    }
    const grants = this.auth(req);

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/releases\/tags\/(.+)$/.exec(p)) && method === 'GET') {
      const docs = `${DOCS}/releases/releases#get-a-release-by-tag-name`;
      const state = this.access(grants, m[1]!, m[2]!, 'read', docs);
      const tag = decodeURIComponent(m[3]!);
      const rel = this.releasesOf(`${state.owner}/${state.repo}`).find(
        (r) => !r.draft && r.tagName === tag,
      );
      if (rel === undefined) throw fail(404, 'Not Found', docs);
      return this.json(res, 200, this.releaseJson(rel));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/releases$/.exec(p))) {
      if (method === 'GET') {
        const docs = `${DOCS}/releases/releases#list-releases`;
        const state = this.access(grants, m[1]!, m[2]!, 'read', docs);
        const push = this.allowed(grants, state, 'write');
        const list = this.releasesOf(`${state.owner}/${state.repo}`).filter(
          (r) => push || !r.draft,
        );
        return this.page(res, url, this.api.url, list, (r) => this.releaseJson(r));
      }
      if (method === 'POST') {
        const docs = `${DOCS}/releases/releases#create-a-release`;
        const state = this.access(grants, m[1]!, m[2]!, 'write', docs);
        const b = await this.jsonBody(req);
        if (typeof b.tag_name !== 'string' || b.tag_name === '')
          throw validation('Release', 'missing_field', 'tag_name', docs);
        const draft = b.draft === true;
        if (!draft && state.usedByImmutable.has(b.tag_name))
          throw new HttpFailure(422, {
            message: 'Validation Failed',
            errors: [
              {
                resource: 'Release',
                code: 'custom',
                field: 'tag_name',
                message: 'tag_name was used by an immutable release',
              },
            ],
            documentation_url: docs,
            status: '422',
          });
        if (
          !draft &&
          this.releasesOf(`${state.owner}/${state.repo}`).some(
            (r) => !r.draft && r.tagName === b.tag_name,
          )
        )
          throw validation('Release', 'already_exists', 'tag_name', docs);
        const rel = this.newRelease(state, b);
        if (!draft) this.publish(state, rel);
        return this.json(res, 201, this.releaseJson(rel), {
          location: `${this.api.url}/repos/${rel.repo}/releases/${rel.id}`,
        });
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/releases\/(\d+)$/.exec(p))) {
      const docs = `${DOCS}/releases/releases#update-a-release`;
      const state = this.access(grants, m[1]!, m[2]!, method === 'GET' ? 'read' : 'write', docs);
      const rel = this.visibleRelease(grants, state, Number(m[3]), docs);
      if (method === 'GET') return this.json(res, 200, this.releaseJson(rel));
      if (method === 'PATCH') {
        const b = await this.jsonBody(req);
        if (rel.immutable && b.draft === true)
          throw fail(422, 'state cannot be changed when release is immutable', docs);
        if (typeof b.name === 'string') rel.name = b.name;
        if (typeof b.body === 'string') rel.body = b.body;
        if (typeof b.tag_name === 'string' && !rel.immutable) rel.tagName = b.tag_name;
        if (b.draft === false && rel.draft) this.publish(state, rel);
        if (b.draft === true && !rel.draft) rel.draft = true;
        return this.json(res, 200, this.releaseJson(rel));
      }
      if (method === 'DELETE') {
        this.releases.splice(this.releases.indexOf(rel), 1);
        return this.json(res, 204, undefined);
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/releases\/(\d+)\/assets$/.exec(p)) && method === 'GET') {
      const docs = `${DOCS}/releases/assets#list-release-assets`;
      const state = this.access(grants, m[1]!, m[2]!, 'read', docs);
      const rel = this.visibleRelease(grants, state, Number(m[3]), docs);
      return this.page(res, url, this.api.url, rel.assets, (a) => this.assetJson(rel, a));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/releases\/assets\/(\d+)$/.exec(p))) {
      const docs = `${DOCS}/releases/assets#get-a-release-asset`;
      const state = this.access(grants, m[1]!, m[2]!, method === 'GET' ? 'read' : 'write', docs);
      const found = this.findAsset(state, Number(m[3]));
      if (found === null || (found.rel.draft && !this.allowed(grants, state, 'write')))
        throw fail(404, 'Not Found', docs);
      if (method === 'GET') {
        if ((req.headers.accept ?? '').includes('application/octet-stream')) {
          // The bytes live on another host, behind a short-lived signed URL.
          const expires = this.clockReal() + DOWNLOAD_URL_MS;
          const path = `/release-assets/${found.asset.id}`;
          const sig = this.signer.sign(`${path}|${expires}`);
          found.asset.downloads++;
          res.writeHead(302, {
            location: `${this.objects.url}${path}?se=${expires}&sig=${sig}`,
            'content-length': 0,
          });
          return void res.end();
        }
        return this.json(res, 200, this.assetJson(found.rel, found.asset));
      }
      if (method === 'DELETE') {
        if (found.rel.immutable)
          throw fail(422, 'Cannot delete assets from an immutable release.', docs);
        found.rel.assets.splice(found.rel.assets.indexOf(found.asset), 1);
        return this.json(res, 204, undefined);
      }
    }
    if ((m = /^\/(?:repos\/([^/]+)\/([^/]+)|orgs\/([^/]+))\/actions\/runners(\/.*)?$/.exec(p))) {
      const docs = `${DOCS}/actions/self-hosted-runners`;
      let scope: string;
      if (m[3] === undefined) {
        const state = this.access(grants, m[1]!, m[2]!, 'read', docs);
        scope = `${state.owner}/${state.repo}`;
        const g = grants?.find((x) => x.repo === scope.toLowerCase());
        if (g?.administration !== 'write')
          throw fail(403, 'Resource not accessible by integration', docs);
      } else {
        scope = `org:${m[3]}`;
        const org = m[3].toLowerCase();
        if (!grants?.some((x) => x.repo.split('/')[0] === org && x.orgRunners === 'write'))
          throw fail(403, 'Resource not accessible by integration', docs);
      }
      const body = method === 'POST' ? await this.jsonBody(req) : {};
      const [status, json] = this.runners.handle(
        method,
        scope,
        m[4] ?? '',
        body,
        url.searchParams,
        {
          apiUrl: this.api.url,
          serverUrl: this.serverUrl,
        },
      );
      return this.json(res, status, json);
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs(?:\/(\d+))?$/.exec(p))) {
      const docs = `${DOCS}/checks/runs`;
      const state = this.access(grants, m[1]!, m[2]!, method === 'GET' ? 'read' : 'checks', docs);
      const repo = `${state.owner}/${state.repo}`.toLowerCase();
      const id = m[3] === undefined ? null : Number(m[3]);
      const body = method === 'GET' ? {} : await this.jsonBody(req);
      const [status, json] = this.checks.handle(method, repo, id, body, this.api.url);
      return this.json(res, status, json);
    }
    throw fail(404, 'Not Found');
  }

  private clockReal(): number {
    return Date.now();
  }

  // ---- the uploads host ----

  private async handleUpload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const docs = `${DOCS}/releases/assets#upload-a-release-asset`;
    const grants = this.auth(req);
    const m = /^\/repos\/([^/]+)\/([^/]+)\/releases\/(\d+)\/assets$/.exec(url.pathname);
    if (m === null || req.method !== 'POST') throw fail(404, 'Not Found', docs);
    const state = this.access(grants, m[1]!, m[2]!, 'write', docs);
    const rel = this.visibleRelease(grants, state, Number(m[3]), docs);
    const rawName = url.searchParams.get('name');
    if (rawName === null || rawName === '')
      throw validation('ReleaseAsset', 'missing_field', 'name', docs);
    const contentType = req.headers['content-type'];
    if (contentType === undefined || contentType === '')
      throw fail(400, 'Content-Type header is required', docs);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (!Number.isFinite(declared)) throw fail(400, 'Bad Content-Length', docs);
    const bytes = await readBody(req);
    if (bytes.length !== declared) throw fail(400, 'Bad Content-Length', docs);
    if (rel.immutable) throw fail(422, 'Cannot upload assets to an immutable release.', docs);
    const name = githubAssetName(rawName);
    if (rel.assets.some((a) => a.name === name)) {
      throw new HttpFailure(422, {
        message: 'Validation Failed',
        request_id: randomBytes(8).toString('hex').toUpperCase(),
        documentation_url: docs,
        errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }],
      });
    }
    const asset = this.newAsset(name, bytes, contentType, url.searchParams.get('label'));
    rel.assets.push(asset);
    this.json(res, 201, this.assetJson(rel, asset));
  }

  // ---- the object host ----

  private async handleObject(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const m = /^\/release-assets\/(\d+)$/.exec(url.pathname);
    const expires = Number(url.searchParams.get('se') ?? NaN);
    const sig = url.searchParams.get('sig') ?? '';
    if (
      m === null ||
      req.method !== 'GET' ||
      !this.signer.check(`${url.pathname}|${expires}`, sig) ||
      !(expires > this.clockReal())
    ) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      return void res.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.</Message></Error>',
      );
    }
    const id = Number(m[1]);
    const asset = this.releases.flatMap((r) => r.assets).find((a) => a.id === id);
    if (asset === undefined) {
      res.writeHead(404, { 'content-type': 'application/xml' });
      return void res.end(
        '<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>',
      );
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': asset.bytes.length,
      'content-disposition': `attachment; filename=${asset.name}`,
      etag: `"0x${createHash('md5').update(asset.bytes).digest('hex').slice(0, 16).toUpperCase()}"`,
    });
    res.end(asset.bytes);
  }
}
