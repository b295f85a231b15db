/**
 * A stand-in for GitHub Actions' OIDC token service, faithful to its wire: the runtime's
 * `ACTIONS_ID_TOKEN_REQUEST_URL` answers `GET …&audience=<aud>` (Bearer
 * `ACTIONS_ID_TOKEN_REQUEST_TOKEN`) with `{"count": n, "value": "<jwt>"}`, as @actions/core's
 * `getIDToken` expects; tokens are RS256 JWTs shaped as GitHub's of 2025-2026
 * (test/fixtures/github-oidc holds genuine ones): header `{alg, kid, typ, x5t}` with a UUID-form
 * `kid`, claims in alphabetical order (docs.github.com, "OpenID Connect reference": actor, aud,
 * check_run_id, event_name, job_workflow_ref, ref, repository, repository_id, run_id, run_attempt,
 * runner_environment, sha, sub, workflow_ref, …; nbf = iat - 300 s, exp = iat + 300 s); the
 * issuer's `/.well-known/openid-configuration` and `/.well-known/jwks` are served too. Real HTTP
 * on loopback, a real RSA key made here.
 */
import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The job a token describes (GitHub fills these from the workflow run). */
export interface OidcJob {
  repository: string;
  repositoryId: string;
  sha: string;
  ref: string;
  workflow: string;
  eventName: string;
  runId: string;
  runAttempt: string;
  runnerEnvironment: 'github-hosted' | 'self-hosted';
}

export const DEFAULT_JOB: OidcJob = {
  repository: 'acme/app',
  repositoryId: '123456789',
  sha: '0'.repeat(40),
  ref: 'refs/tags/v1.0.0',
  workflow: 'release',
  eventName: 'push',
  runId: '8812345678',
  runAttempt: '1',
  runnerEnvironment: 'self-hosted',
};

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** A signing key of the stand-in, with its `kid` and JWK. */
export interface StandinKey {
  kid: string;
  x5t: string;
  privateKey: KeyObject;
  jwk: { kty: 'RSA'; alg: 'RS256'; use: 'sig'; kid: string; n: string; e: string; x5t: string };
}

/**
 * A fresh RSA-2048 key, named as GitHub names its current keys: a name-based (version 5) UUID
 * `kid`; `x5t` is the SHA-1 thumbprint, base64url.
 */
export function makeStandinKey(): StandinKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const thumb = createHash('sha1').update(der).digest();
  const u = Buffer.from(thumb.subarray(0, 16));
  u[6] = (u[6]! & 0x0f) | 0x50;
  u[8] = (u[8]! & 0x3f) | 0x80;
  const h = u.toString('hex');
  const kid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const x5t = b64url(thumb);
  const j = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return {
    kid,
    x5t,
    privateKey,
    jwk: { kty: 'RSA', alg: 'RS256', use: 'sig', kid, n: j.n, e: j.e, x5t },
  };
}

export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** A random UUID, as GitHub's `jti`. */
function uuid(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

/** Signs a token as GitHub does; `over` replaces or adds claims (for refusal tests). */
export function signToken(
  key: StandinKey,
  job: OidcJob,
  audience: string,
  iat: number,
  over: Record<string, unknown> = {},
): string {
  const header = { alg: 'RS256', kid: key.kid, typ: 'JWT', x5t: key.x5t };
  const [owner] = job.repository.split('/');
  const workflowRef = `${job.repository}/.github/workflows/${job.workflow}.yml@${job.ref}`;
  const claims: Record<string, unknown> = {
    actor: 'alice',
    actor_id: '1001',
    aud: audience,
    base_ref: '',
    check_run_id: '51234567890',
    event_name: job.eventName,
    exp: iat + 300,
    head_ref: '',
    iat,
    iss: GITHUB_ISSUER,
    job_workflow_ref: workflowRef,
    job_workflow_sha: job.sha,
    jti: uuid(),
    nbf: iat - 300,
    ref: job.ref,
    ref_protected: 'true',
    ref_type: job.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    repository: job.repository,
    repository_id: job.repositoryId,
    repository_owner: owner,
    repository_owner_id: '4242',
    repository_visibility: 'public',
    run_attempt: job.runAttempt,
    run_id: job.runId,
    run_number: '17',
    runner_environment: job.runnerEnvironment,
    sha: job.sha,
    sub: `repo:${job.repository}:ref:${job.ref}`,
    workflow: job.workflow,
    workflow_ref: workflowRef,
    workflow_sha: job.sha,
  };
  for (const [k, v] of Object.entries(over)) claims[k] = v;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = createSign('RSA-SHA256').update(input).sign(key.privateKey);
  return `${input}.${b64url(sig)}`;
}

/** The running stand-in. */
export interface OidcStandin {
  key: StandinKey;
  /** The job tokens describe (tests change it between builds). */
  job: OidcJob;
  /** `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN` as the runner sets them. */
  env: { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string };
  /** URL of the JWKS document. */
  jwksUrl: string;
  /** Audiences asked for, in order. */
  requested: string[];
  close(): Promise<void>;
}

/** Starts the stand-in on a loopback port. */
export async function startOidcStandin(job: Partial<OidcJob> = {}): Promise<OidcStandin> {
  const key = makeStandinKey();
  const runtimeToken = randomBytes(24).toString('hex');
  const state = { job: { ...DEFAULT_JOB, ...job }, requested: [] as string[] };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/jwks') return json(200, { keys: [key.jwk] });
    if (url.pathname === '/.well-known/openid-configuration')
      return json(200, {
        issuer: GITHUB_ISSUER,
        jwks_uri: `${GITHUB_ISSUER}/.well-known/jwks`,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        claims_supported: [
          'sub',
          'aud',
          'exp',
          'iat',
          'iss',
          'jti',
          'nbf',
          'ref',
          'sha',
          'repository',
          'repository_id',
          'run_id',
          'run_attempt',
          'runner_environment',
          'workflow_ref',
          'event_name',
        ],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid'],
      });
    if (url.pathname.endsWith('/idtoken')) {
      if (req.headers.authorization !== `Bearer ${runtimeToken}`)
        return json(401, {
          $id: '1',
          message: 'TF400813: The user is not authorized to access this resource.',
        });
      const audience =
        url.searchParams.get('audience') ??
        `https://github.com/${state.job.repository.split('/')[0]}`;
      state.requested.push(audience);
      return json(200, {
        count: 1843,
        value: signToken(key, state.job, audience, Math.floor(Date.now() / 1000)),
      });
    }
    json(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    key,
    get job() {
      return state.job;
    },
    set job(j: OidcJob) {
      state.job = j;
    },
    env: {
      ACTIONS_ID_TOKEN_REQUEST_URL: `${base}/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/1f4b0a8e/jobs/7c0d2a3b/idtoken?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: runtimeToken,
    },
    jwksUrl: `${base}/.well-known/jwks`,
    requested: state.requested,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
