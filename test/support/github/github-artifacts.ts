/**
 * A stand-in for the artifact service of GitHub Actions, as @actions/artifact v6 speaks to it:
 *
 * - the results service at `ACTIONS_RESULTS_URL`: Twirp JSON on
 *   `/twirp/github.actions.results.api.v1.ArtifactService/{CreateArtifact, FinalizeArtifact,
 *   ListArtifacts, GetSignedArtifactURL, DeleteArtifact}` with protobuf JSON field names
 *   (`workflow_run_backend_id`, int64 as strings, Timestamps as RFC 3339), Twirp errors
 *   (`{"code","msg"}` with their HTTP statuses), and the runtime token checked: a JWT whose `scp`
 *   claim holds `Actions.Results:<run backend id>:<job backend id>`;
 * - blob storage behind signed URLs, on another origin, in Azure's path style
 *   (`/<account>/<container>/<blob>`): Put Block (`?comp=block&blockid=`), Put Block List
 *   (`?comp=blocklist`, XML), Put Blob, Get Blob, with SAS-like `se`/`sp`/`sig` parameters.
 *
 * Artifacts are visible to every job of their run (how a consensus job reads a matrix's bundles).
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Listening, LoggedRequest } from './github-http.js';
import { HttpFailure, Signer, listen, readBody } from './github-http.js';

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';
/** Lifetime of signed blob URLs. */
const SAS_MS = 10 * 60_000;

/** A job's identity as the results service sees it. */
export interface RunJob {
  runBackendId: string;
  jobBackendId: string;
}

export interface StoredArtifact {
  id: number;
  runBackendId: string;
  jobBackendId: string;
  name: string;
  blob: string;
  mimeType: string | null;
  finalized: boolean;
  size: number;
  digest: string | null;
  createdAt: string;
}

interface Blob {
  blocks: Map<string, Buffer>;
  committed: Buffer | null;
  contentType: string;
}

const TWIRP_STATUS: Record<string, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  bad_route: 404,
  internal: 500,
};

function twirp(code: string, msg: string): HttpFailure {
  return new HttpFailure(TWIRP_STATUS[code] ?? 500, { code, msg });
}

function azureError(status: number, code: string, message: string): HttpFailure {
  return new HttpFailure(status, { azure: true, code, message });
}

/** The stand-in: the results service and the blob store. */
export class ArtifactServiceStandIn {
  readonly requests: LoggedRequest[] = [];
  readonly artifacts: StoredArtifact[] = [];
  private readonly blobs = new Map<string, Blob>();
  private readonly key = createHash('sha256').update(randomUUID()).digest();
  private readonly signer = new Signer();
  private nextId = 5000;
  private results!: Listening;
  private storage!: Listening;

  /** ACTIONS_RESULTS_URL. */
  get resultsUrl(): string {
    return `${this.results.url}/`;
  }

  static async start(): Promise<ArtifactServiceStandIn> {
    const s = new ArtifactServiceStandIn();
    s.results = await listen(
      'results',
      s.requests,
      (q, r, u) => s.handleTwirp(q, r, u),
      (r, e) => s.sendError(r, e),
    );
    s.storage = await listen(
      'blob',
      s.requests,
      (q, r, u) => s.handleBlob(q, r, u),
      (r, e) => s.sendError(r, e),
    );
    return s;
  }

  async stop(): Promise<void> {
    await Promise.all([this.results.close(), this.storage.close()]);
  }

  /** A new job of a run (a new run when `runBackendId` is not given). */
  job(runBackendId: string = randomUUID()): RunJob {
    return { runBackendId, jobBackendId: randomUUID() };
  }

  /** ACTIONS_RUNTIME_TOKEN for a job: a JWT signed by the stand-in. */
  runtimeToken(job: RunJob): string {
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const head = b64({ typ: 'JWT', alg: 'HS256' });
    const body = b64({
      nameid: 'dddddddd-dddd-dddd-dddd-dddddddddddd',
      scp: `Actions.ExampleScope Actions.Results:${job.runBackendId}:${job.jobBackendId}`,
      iss: 'vstoken.actions.githubusercontent.com',
      aud: 'vso:stand-in',
      nbf: now - 60,
      exp: now + 6 * 3600,
    });
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${sig}`;
  }

  /** Finalized artifacts of a run. */
  artifactsOf(runBackendId: string): StoredArtifact[] {
    return this.artifacts.filter((a) => a.runBackendId === runBackendId && a.finalized);
  }

  /** The stored bytes of an artifact (the zip). */
  bytesOf(a: StoredArtifact): Buffer {
    const b = this.blobs.get(a.blob)?.committed;
    if (b == null) throw new Error(`artifact ${a.name} has no committed blob`);
    return b;
  }

  // ---- plumbing ----

  private sendError(res: ServerResponse, e: unknown): void {
    if (e instanceof HttpFailure) {
      const b = e.body as { azure?: boolean; code?: string; message?: string };
      if (b.azure === true) {
        const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${b.code ?? ''}</Code><Message>${b.message ?? ''}</Message></Error>`;
        res.writeHead(e.status, {
          'content-type': 'application/xml',
          'x-ms-error-code': b.code ?? '',
          'content-length': Buffer.byteLength(xml),
        });
        return void res.end(xml);
      }
      const text = JSON.stringify(e.body);
      res.writeHead(e.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      return void res.end(text);
    }
    const text = JSON.stringify({ code: 'internal', msg: (e as Error)?.message ?? String(e) });
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(text);
  }

  /** The run and job the bearer token speaks for; 401 when it is not one of ours. */
  private caller(req: IncomingMessage): RunJob {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const parts = m?.[1]?.split('.') ?? [];
    if (parts.length !== 3) throw twirp('unauthenticated', 'missing or malformed bearer token');
    const sig = createHmac('sha256', this.key)
      .update(`${parts[0]}.${parts[1]}`)
      .digest('base64url');
    if (sig !== parts[2]) throw twirp('unauthenticated', 'invalid token signature');
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as {
      scp?: string;
      exp?: number;
    };
    if ((claims.exp ?? 0) * 1000 < Date.now()) throw twirp('unauthenticated', 'token expired');
    const scope = (claims.scp ?? '').split(' ').find((s) => s.startsWith('Actions.Results:'));
    const [, run, job] = scope?.split(':') ?? [];
    if (run === undefined || job === undefined)
      throw twirp('permission_denied', 'the token has no results scope');
    return { runBackendId: run, jobBackendId: job };
  }

  private sas(blob: string, perm: string): string {
    const se = new Date(Date.now() + SAS_MS).toISOString();
    const sig = this.signer.sign(`${blob}|${perm}|${se}`);
    const q = new URLSearchParams({ sv: '2025-01-05', se, sr: 'b', sp: perm, sig });
    return `${this.storage.url}/${blob.split('/').map(encodeURIComponent).join('/')}?${q.toString()}`;
  }

  // ---- the results service ----

  private async handleTwirp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'POST' || !url.pathname.startsWith(SERVICE))
      throw twirp('bad_route', `no handler for path ${url.pathname}`);
    const method = url.pathname.slice(SERVICE.length);
    const who = this.caller(req);
    if (!(req.headers['content-type'] ?? '').startsWith('application/json'))
      throw twirp('invalid_argument', 'unexpected Content-Type');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8')) as Record<
        string,
        unknown
      >;
    } catch {
      throw twirp('invalid_argument', 'the body is not JSON');
    }
    if (body.workflow_run_backend_id !== who.runBackendId)
      throw twirp('permission_denied', "workflow_run_backend_id is not the token's run");
    const reply = (v: unknown): void => {
      const text = JSON.stringify(v);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const name = typeof body.name === 'string' ? body.name : '';
    const inRun = this.artifacts.filter((a) => a.runBackendId === who.runBackendId);
    switch (method) {
      case 'CreateArtifact': {
        if (body.workflow_job_run_backend_id !== who.jobBackendId)
          throw twirp('permission_denied', "workflow_job_run_backend_id is not the token's job");
        if (name === '') throw twirp('invalid_argument', 'name is required');
        if (typeof body.version !== 'number' || body.version < 4)
          throw twirp('invalid_argument', 'unsupported artifact version');
        if (inRun.some((a) => a.name === name && a.finalized))
          throw twirp(
            'already_exists',
            'an artifact with this name already exists on the workflow run',
          );
        const pending = inRun.findIndex((a) => a.name === name && !a.finalized);
        if (pending >= 0) this.artifacts.splice(this.artifacts.indexOf(inRun[pending]!), 1);
        const blob = `actionsresults/${who.runBackendId}/${who.jobBackendId}/${encodeURIComponent(name)}${body.mime_type === 'application/zip' || body.mime_type === undefined ? '.zip' : ''}`;
        this.artifacts.push({
          id: this.nextId++,
          runBackendId: who.runBackendId,
          jobBackendId: who.jobBackendId,
          name,
          blob,
          mimeType: typeof body.mime_type === 'string' ? body.mime_type : null,
          finalized: false,
          size: 0,
          digest: null,
          createdAt: new Date().toISOString(),
        });
        this.blobs.delete(blob);
        return reply({ ok: true, signed_upload_url: this.sas(blob, 'cw') });
      }
      case 'FinalizeArtifact': {
        const a = inRun.find(
          (x) => x.name === name && !x.finalized && x.jobBackendId === who.jobBackendId,
        );
        if (a === undefined) throw twirp('not_found', 'no artifact to finalize with this name');
        const committed = this.blobs.get(a.blob)?.committed;
        if (committed == null) throw twirp('failed_precondition', 'the artifact was not uploaded');
        if (String(body.size) !== String(committed.length))
          throw twirp(
            'invalid_argument',
            `size ${String(body.size)} is not the uploaded ${committed.length}`,
          );
        const digest = `sha256:${createHash('sha256').update(committed).digest('hex')}`;
        if (typeof body.hash === 'string' && body.hash !== digest)
          throw twirp('invalid_argument', 'hash mismatch');
        a.finalized = true;
        a.size = committed.length;
        a.digest = digest;
        return reply({ ok: true, artifact_id: String(a.id) });
      }
      case 'ListArtifacts': {
        const nameFilter = typeof body.name_filter === 'string' ? body.name_filter : null;
        const idFilter =
          typeof body.id_filter === 'string' || typeof body.id_filter === 'number'
            ? String(body.id_filter)
            : null;
        const list = inRun
          .filter((a) => a.finalized)
          .filter((a) => nameFilter === null || a.name === nameFilter)
          .filter((a) => idFilter === null || String(a.id) === idFilter);
        return reply({
          artifacts: list.map((a) => ({
            workflow_run_backend_id: a.runBackendId,
            workflow_job_run_backend_id: a.jobBackendId,
            database_id: String(a.id),
            name: a.name,
            size: String(a.size),
            created_at: a.createdAt,
            ...(a.digest === null ? {} : { digest: a.digest }),
          })),
        });
      }
      case 'GetSignedArtifactURL': {
        const a = inRun.find(
          (x) =>
            x.name === name && x.finalized && x.jobBackendId === body.workflow_job_run_backend_id,
        );
        if (a === undefined) throw twirp('not_found', 'artifact not found');
        return reply({ signed_url: this.sas(a.blob, 'r') });
      }
      case 'DeleteArtifact': {
        const a = inRun.find(
          (x) =>
            x.name === name && x.finalized && x.jobBackendId === body.workflow_job_run_backend_id,
        );
        if (a === undefined) throw twirp('not_found', 'artifact not found');
        this.artifacts.splice(this.artifacts.indexOf(a), 1);
        this.blobs.delete(a.blob);
        return reply({ ok: true, artifact_id: String(a.id) });
      }
      default:
        throw twirp('bad_route', `no method ${method}`);
    }
  }

  // ---- the blob store ----

  private async handleBlob(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const blob = decodeURIComponent(url.pathname.slice(1));
    const q = url.searchParams;
    const perm = q.get('sp') ?? '';
    const se = q.get('se') ?? '';
    if (
      !this.signer.check(`${blob}|${perm}|${se}`, q.get('sig') ?? '') ||
      !(Date.parse(se) > Date.now())
    )
      throw azureError(403, 'AuthenticationFailed', 'Server failed to authenticate the request.');
    const method = req.method ?? 'GET';
    const headers = (
      extra: Record<string, string | number> = {},
    ): Record<string, string | number> => ({
      'x-ms-request-id': randomUUID(),
      'x-ms-version': '2025-01-05',
      date: new Date().toUTCString(),
      ...extra,
    });
    if (method === 'PUT') {
      if (!perm.includes('w'))
        throw azureError(
          403,
          'AuthorizationPermissionMismatch',
          'This request is not authorized to perform this operation using this permission.',
        );
      const body = await readBody(req);
      const comp = q.get('comp');
      let b = this.blobs.get(blob);
      if (b === undefined) {
        b = { blocks: new Map(), committed: null, contentType: 'application/octet-stream' };
        this.blobs.set(blob, b);
      }
      if (comp === 'block') {
        const id = q.get('blockid');
        if (id === null || id === '')
          throw azureError(400, 'InvalidQueryParameterValue', 'blockid is required');
        b.blocks.set(id, body);
        res.writeHead(
          201,
          headers({ 'x-ms-request-server-encrypted': 'true', 'content-length': 0 }),
        );
        return void res.end();
      }
      if (comp === 'blocklist') {
        const ids = [
          ...body.toString('utf8').matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g),
        ].map((m) => m[2]!);
        const parts: Buffer[] = [];
        for (const id of ids) {
          const part = b.blocks.get(id);
          if (part === undefined)
            throw azureError(400, 'InvalidBlockList', 'The specified block list is invalid.');
          parts.push(part);
        }
        b.committed = Buffer.concat(parts);
        b.blocks.clear();
        const ct = req.headers['x-ms-blob-content-type'];
        if (typeof ct === 'string') b.contentType = ct;
        res.writeHead(
          201,
          headers({
            etag: `"0x${randomUUID().slice(0, 8).toUpperCase()}"`,
            'last-modified': new Date().toUTCString(),
            'content-length': 0,
          }),
        );
        return void res.end();
      }
      if (comp === null) {
        if (req.headers['x-ms-blob-type'] !== 'BlockBlob')
          throw azureError(400, 'MissingRequiredHeader', 'x-ms-blob-type is required');
        b.committed = body;
        const ct = req.headers['x-ms-blob-content-type'];
        if (typeof ct === 'string') b.contentType = ct;
        res.writeHead(
          201,
          headers({ etag: `"0x${randomUUID().slice(0, 8).toUpperCase()}"`, 'content-length': 0 }),
        );
        return void res.end();
      }
      throw azureError(400, 'InvalidQueryParameterValue', `comp=${comp}`);
    }
    if (method === 'GET' || method === 'HEAD') {
      if (!perm.includes('r'))
        throw azureError(
          403,
          'AuthorizationPermissionMismatch',
          'This request is not authorized to perform this operation using this permission.',
        );
      const data = this.blobs.get(blob)?.committed;
      if (data == null) throw azureError(404, 'BlobNotFound', 'The specified blob does not exist.');
      res.writeHead(
        200,
        headers({
          'content-type': this.blobs.get(blob)!.contentType,
          'content-length': data.length,
          'x-ms-blob-type': 'BlockBlob',
          etag: `"0x${createHash('md5').update(data).digest('hex').slice(0, 16).toUpperCase()}"`,
        }),
      );
      return void res.end(method === 'HEAD' ? undefined : data);
    }
    throw azureError(
      405,
      'UnsupportedHttpVerb',
      "The resource doesn't support the specified HTTP verb.",
    );
  }
}
