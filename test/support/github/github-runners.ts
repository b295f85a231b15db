/**
 * Self-hosted runners of the GitHub REST stand-in, for a repository or an organisation:
 * `POST …/actions/runners/generate-jitconfig` (201 `{runner, encoded_jit_config}`; 409 for a name
 * in use; 422 `Validation Failed` for a missing name, runner group or labels), `GET
 * …/actions/runners` (`{total_count, runners}`, paged), `GET`/`DELETE …/actions/runners/{id}`
 * (204; 404; 422 while the runner is busy). The JIT configuration is what the runner reads:
 * base64 of `{".runner", ".credentials", ".credentials_rsaparams"}`, each base64 JSON, with an RSA
 * key the runner signs its token request with (a JWT client assertion, RS256). The runner side
 * (token and session, in place of GitHub's broker) lives under `/_runner-standin/`: a session
 * makes the runner `online`, ending it makes it `offline`.
 */
import { generateKeyPairSync, randomUUID, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { DOCS, fail, validation } from './github-errors.js';
import { HttpFailure } from './github-http.js';

export interface StoredRunner {
  id: number;
  /** `owner/repo` or `org:<name>`, lower case. */
  scope: string;
  name: string;
  labels: string[];
  groupId: number;
  status: 'online' | 'offline';
  busy: boolean;
  clientId: string;
  publicKey: KeyObject;
  /** Access tokens issued to the runner. */
  tokens: Set<string>;
  /** Whether a runner process ever connected with the JIT configuration. */
  connected: boolean;
}

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

/** The runners of every scope of the stand-in. */
export class RunnerRegistry {
  readonly runners: StoredRunner[] = [];

  private keys: { publicKey: KeyObject; privateKey: KeyObject } | undefined;

  constructor(private readonly nextId: () => number) {}

  /**
   * The runners' RSA key. GitHub makes one per runner; the stand-in makes one per registry, since
   * generating 2048-bit keys is slow and the tests do not depend on their differing.
   */
  private keyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
    this.keys ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
    return this.keys;
  }

  of(scope: string): StoredRunner[] {
    return this.runners.filter((r) => r.scope === scope.toLowerCase());
  }

  private json(r: StoredRunner): Record<string, unknown> {
    return {
      id: r.id,
      name: r.name,
      os: r.connected ? 'Linux' : 'unknown',
      status: r.status,
      busy: r.busy,
      ephemeral: true,
      runner_group_id: r.groupId,
      labels: [
        { id: 1, name: 'self-hosted', type: 'read-only' },
        ...(r.connected
          ? [
              { id: 2, name: 'Linux', type: 'read-only' },
              { id: 3, name: 'X64', type: 'read-only' },
            ]
          : []),
        ...r.labels.map((name, i) => ({ id: 10 + i, name, type: 'custom' })),
      ],
    };
  }

  /** Answers the REST routes: `[status, body]`; `rest` is what follows `…/actions/runners`. */
  handle(
    method: string,
    scope: string,
    rest: string,
    body: Record<string, unknown>,
    query: URLSearchParams,
    o: { apiUrl: string; serverUrl: string },
  ): [number, unknown] {
    const mine = this.of(scope);
    if (rest === '/generate-jitconfig' && method === 'POST') {
      const docs = `${DOCS}/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository`;
      if (typeof body.name !== 'string' || body.name === '')
        throw validation('Runner', 'missing_field', 'name', docs);
      if (typeof body.runner_group_id !== 'number' || !Number.isInteger(body.runner_group_id))
        throw validation('Runner', 'missing_field', 'runner_group_id', docs);
      const labels = body.labels;
      if (
        !Array.isArray(labels) ||
        labels.length === 0 ||
        labels.length > 100 ||
        !labels.every((l) => typeof l === 'string' && l !== '')
      )
        throw validation('Runner', 'invalid', 'labels', docs);
      if (mine.some((r) => r.name === body.name))
        throw fail(
          409,
          `Already exists - A runner with the name ${body.name} already exists.`,
          docs,
        );
      const { publicKey, privateKey } = this.keyPair();
      const jwk = privateKey.export({ format: 'jwk' });
      const r: StoredRunner = {
        id: this.nextId(),
        scope: scope.toLowerCase(),
        name: body.name,
        labels: labels as string[],
        groupId: body.runner_group_id,
        status: 'offline',
        busy: false,
        clientId: randomUUID(),
        publicKey,
        tokens: new Set(),
        connected: false,
      };
      this.runners.push(r);
      const std = (s: string | undefined): string =>
        Buffer.from(s ?? '', 'base64url').toString('base64');
      const jit = {
        '.runner': b64json({
          agentId: r.id,
          agentName: r.name,
          poolId: r.groupId,
          poolName: 'Default',
          ephemeral: true,
          serverUrl: `${o.apiUrl}/_runner-standin/`,
          gitHubUrl: `${o.serverUrl}/${scope.replace(/^org:/, '')}`,
          workFolder: typeof body.work_folder === 'string' ? body.work_folder : '_work',
        }),
        '.credentials': b64json({
          scheme: 'OAuth',
          data: {
            clientId: r.clientId,
            authorizationUrl: `${o.apiUrl}/_runner-standin/oauth2/token/${r.clientId}`,
            requireFipsCryptography: 'False',
          },
        }),
        '.credentials_rsaparams': b64json({
          d: std(jwk.d),
          dp: std(jwk.dp),
          dq: std(jwk.dq),
          exponent: std(jwk.e),
          inverseQ: std(jwk.qi),
          modulus: std(jwk.n),
          p: std(jwk.p),
          q: std(jwk.q),
        }),
      };
      return [201, { runner: this.json(r), encoded_jit_config: b64json(jit) }];
    }
    if (rest === '' && method === 'GET') {
      const perPage = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30));
      const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
      return [
        200,
        {
          total_count: mine.length,
          runners: mine.slice((page - 1) * perPage, page * perPage).map((r) => this.json(r)),
        },
      ];
    }
    const m = /^\/(\d+)$/.exec(rest);
    if (m !== null) {
      const docs = `${DOCS}/actions/self-hosted-runners#delete-a-self-hosted-runner-from-a-repository`;
      const r = mine.find((x) => x.id === Number(m[1]));
      if (r === undefined) throw fail(404, 'Not Found', docs);
      if (method === 'GET') return [200, this.json(r)];
      if (method === 'DELETE') {
        if (r.busy)
          throw fail(422, `Bad request - Runner "${r.name}" is still running a job"`, docs);
        this.runners.splice(this.runners.indexOf(r), 1);
        return [204, undefined];
      }
    }
    throw fail(404, 'Not Found');
  }

  /**
   * The runner's side: `POST /_runner-standin/oauth2/token/{clientId}` with a JWT client
   * assertion signed by the JIT configuration's key, then `POST`/`DELETE
   * /_runner-standin/sessions` with the access token.
   */
  handleRunner(
    method: string,
    path: string,
    form: URLSearchParams,
    authorization: string | undefined,
  ): [number, unknown] {
    let m: RegExpExecArray | null;
    if (
      (m = /^\/_runner-standin\/oauth2\/token\/([0-9a-f-]{36})$/.exec(path)) &&
      method === 'POST'
    ) {
      const r = this.runners.find((x) => x.clientId === m![1]);
      const jwt = form.get('client_assertion') ?? '';
      const [h, p, s] = jwt.split('.');
      if (r === undefined || h === undefined || p === undefined || s === undefined)
        return [401, { error: 'invalid_client' }];
      const ok = verify(
        'RSA-SHA256',
        Buffer.from(`${h}.${p}`),
        r.publicKey,
        Buffer.from(s, 'base64url'),
      );
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as { sub?: string };
      if (!ok || claims.sub !== r.clientId) return [401, { error: 'invalid_client' }];
      const token = randomUUID();
      r.tokens.add(token);
      return [200, { access_token: token, token_type: 'Bearer', expires_in: 3600 }];
    }
    if (path === '/_runner-standin/sessions' && (method === 'POST' || method === 'DELETE')) {
      const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
      const r = this.runners.find((x) => token !== undefined && x.tokens.has(token));
      if (r === undefined) throw new HttpFailure(401, { message: 'unauthorized' });
      r.connected = true;
      r.status = method === 'POST' ? 'online' : 'offline';
      return [
        method === 'POST' ? 200 : 204,
        method === 'POST'
          ? { sessionId: randomUUID(), agent: { id: r.id, name: r.name } }
          : undefined,
      ];
    }
    throw fail(404, 'Not Found');
  }
}
