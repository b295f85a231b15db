/**
 * The HTTP API of the agent (Kettle's build-service routes where they exist, so that clients of
 * one work with the other):
 *
 *   GET    /health                 200 `ok` (no token needed)
 *   GET    /metrics                Prometheus text
 *   POST   /build                  202 {job_id, nonce}: JSON or multipart
 *   GET    /build/{id}             the job's state
 *   DELETE /build/{id}             cancels it
 *   GET    /build/{id}/events      Server-Sent Events, backlog first, resumable (Last-Event-ID)
 *   GET    /build/{id}/result      the bundle (application/gzip, ETag = its SHA-256)
 *
 * Errors are `{"error": {"type", "message", "field"?}}`.
 */
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from './agent.js';
import type { TokenCheck } from './auth.js';
import { checkBearer } from './auth.js';
import type { AgentErrorCode } from './errors.js';
import { AgentError, isAgentError } from './errors.js';
import { isJobId } from './ids.js';
import { mediaType, readJsonSubmission } from './intake.js';
import { readMultipartSubmission } from './multipart.js';
import type { Logger } from './log.js';
import { SseStream } from './sse.js';

/** Time a client has to send a whole request (large uploads included). */
export const MAX_REQUEST_MS = 60 * 60_000;
/** Time a client has to send the request headers. */
export const MAX_HEADERS_MS = 30_000;
/** Longest request path logged. */
const MAX_LOGGED_PATH = 200;

/** HTTP status and stable `error.type` of each agent error. */
export const ERROR_STATUS: Record<AgentErrorCode, [number, string]> = {
  AGENT_BAD_REQUEST: [400, 'invalid_request'],
  AGENT_UNAUTHORIZED: [401, 'unauthorized'],
  AGENT_NOT_FOUND: [404, 'not_found'],
  AGENT_METHOD_NOT_ALLOWED: [405, 'method_not_allowed'],
  AGENT_NOT_FINISHED: [409, 'not_finished'],
  AGENT_ALREADY_FINISHED: [409, 'already_finished'],
  AGENT_NO_RESULT: [409, 'no_result'],
  AGENT_SINGLE_BUILD_USED: [409, 'single_build_used'],
  AGENT_PAYLOAD_TOO_LARGE: [413, 'payload_too_large'],
  AGENT_UNSUPPORTED_MEDIA_TYPE: [415, 'unsupported_media_type'],
  AGENT_STORAGE_FULL: [507, 'insufficient_storage'],
  AGENT_UNAVAILABLE: [503, 'unavailable'],
  AGENT_CONFIG_INVALID: [500, 'internal'],
  AGENT_DATA_DIR: [500, 'internal'],
  AGENT_SOURCE_INVALID: [400, 'invalid_request'],
  AGENT_CLONE_FAILED: [502, 'clone_failed'],
  AGENT_RESOURCES_EXCEEDED: [400, 'resources_exceeded'],
  AGENT_CANCELLED: [409, 'cancelled'],
  AGENT_INTERRUPTED: [409, 'interrupted'],
};

export interface ServerOptions {
  agent: Agent;
  logger: Logger;
  /** Null: no token required. */
  token: TokenCheck | null;
}

type Route =
  { name: 'health' | 'metrics' | 'build' } | { name: 'job' | 'events' | 'result'; id: string };

const ALLOWED: Record<Route['name'], string[]> = {
  health: ['GET', 'HEAD'],
  metrics: ['GET'],
  build: ['POST'],
  job: ['GET', 'DELETE'],
  events: ['GET'],
  result: ['GET', 'HEAD'],
};

/** The route of a path other than /health (answered before the token is checked). */
function route(path: string): Route | null {
  if (path === '/metrics') return { name: 'metrics' };
  if (path === '/build') return { name: 'build' };
  const m = /^\/build\/([^/]+)(\/events|\/result)?$/.exec(path);
  if (!m) return null;
  // Ids are checked here, before anything reads a file: only the agent's own form reaches the store.
  if (!isJobId(m[1]!)) throw new AgentError('AGENT_NOT_FOUND', 'no such job');
  const id = m[1]!;
  if (m[2] === '/events') return { name: 'events', id };
  if (m[2] === '/result') return { name: 'result', id };
  return { name: 'job', id };
}

/** A refusal whose answer carries more: the `Allow` header, fields beside `type` and `message`. */
class DetailedRefusal extends AgentError {
  constructor(
    code: AgentErrorCode,
    message: string,
    readonly details: { allow?: string[]; extra?: Record<string, unknown> },
  ) {
    super(code, message);
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function errorBody(
  err: AgentError,
  extra: Record<string, unknown> = {},
): { error: Record<string, unknown> } {
  const [, type] = ERROR_STATUS[err.code];
  const error: Record<string, unknown> = { type, message: err.message, ...extra };
  if (
    err.path !== undefined &&
    (err.code === 'AGENT_BAD_REQUEST' || err.code === 'AGENT_PAYLOAD_TOO_LARGE')
  )
    error.field = err.path;
  return { error };
}

/** Builds the HTTP server of an agent (not yet listening). */
export function createAgentServer(o: ServerOptions): Server {
  const { agent, logger } = o;
  const server = createServer((req, res) => {
    const started = Date.now();
    res.on('finish', () => {
      agent.metrics.request(res.statusCode);
      logger.info('request', {
        method: req.method,
        path: (req.url ?? '').slice(0, MAX_LOGGED_PATH),
        status: res.statusCode,
        ms: Date.now() - started,
      });
    });
    handle(req, res, o).catch((err: unknown) => fail(req, res, err, o));
  });
  server.requestTimeout = MAX_REQUEST_MS;
  server.headersTimeout = MAX_HEADERS_MS;
  return server;
}

function fail(req: IncomingMessage, res: ServerResponse, err: unknown, o: ServerOptions): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A refused body may still be arriving: answer, then close the connection.
  const unread = !req.complete;
  const headers: Record<string, string> = unread ? { Connection: 'close' } : {};
  if (isAgentError(err)) {
    const [status] = ERROR_STATUS[err.code];
    if (err.code === 'AGENT_UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer';
    if (err.code === 'AGENT_UNAVAILABLE') headers['Retry-After'] = '30';
    const details = err instanceof DetailedRefusal ? err.details : {};
    if (details.allow) headers.Allow = details.allow.join(', ');
    sendJson(res, status, errorBody(err, details.extra), headers);
  } else {
    o.logger.error('internal error', { error: (err as Error)?.stack ?? String(err) });
    sendJson(res, 500, { error: { type: 'internal', message: 'internal error' } }, headers);
  }
  if (unread) {
    // Stop waiting for a body nobody will read; the timer only covers a client that never stops.
    setTimeout(() => req.destroy(), 5_000).unref();
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, o: ServerOptions): Promise<void> {
  const { agent } = o;
  const method = req.method ?? 'GET';
  let path: string;
  let query: URLSearchParams;
  try {
    const url = new URL(req.url ?? '/', 'http://agent');
    path = url.pathname;
    query = url.searchParams;
  } catch {
    throw new AgentError('AGENT_NOT_FOUND', 'no such route');
  }
  if (path === '/health') {
    if (!ALLOWED.health.includes(method)) throw notAllowed('health');
    res.writeHead(200, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': 2,
      'Cache-Control': 'no-store',
    });
    res.end(method === 'HEAD' ? undefined : 'ok');
    return;
  }
  // Everything but /health needs the token, checked before the route so that no job id answers.
  if (o.token) checkBearer(req, o.token);
  const r = route(path);
  if (!r) throw new AgentError('AGENT_NOT_FOUND', 'no such route');
  if (!ALLOWED[r.name].includes(method)) throw notAllowed(r.name);
  switch (r.name) {
    case 'metrics': {
      const text = agent.metrics.render(agent.snapshot());
      res.writeHead(200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
        'Cache-Control': 'no-store',
      });
      res.end(text);
      return;
    }
    case 'build':
      return submit(req, res, agent);
    case 'job':
      if (method === 'DELETE') return sendJson(res, 200, await agent.cancel(r.id));
      return sendJson(res, 200, agent.view(r.id));
    case 'events':
      return events(req, res, agent, r.id, query);
    case 'result':
      return result(req, res, agent, r.id, method === 'HEAD');
  }
}

function notAllowed(name: Route['name']): AgentError {
  return new DetailedRefusal('AGENT_METHOD_NOT_ALLOWED', `allowed: ${ALLOWED[name].join(', ')}`, {
    allow: ALLOWED[name],
  });
}

async function submit(req: IncomingMessage, res: ServerResponse, agent: Agent): Promise<void> {
  const type = mediaType(req);
  const json = type === 'application/json';
  if (!json && type !== 'multipart/form-data')
    throw new AgentError(
      'AGENT_UNSUPPORTED_MEDIA_TYPE',
      'send application/json or multipart/form-data',
    );
  const s = agent.settings;
  const limits = {
    maxJsonBodyBytes: s.limits.maxJsonBodyBytes,
    maxSourceBytes: s.limits.maxSourceBytes,
    maxDependenciesBytes: s.limits.maxDependenciesBytes,
  };
  const repos = { allowHttp: s.allowHttpRepos, allowedHosts: s.allowedRepoHosts };
  const adm = await agent.admit();
  try {
    const sub = json
      ? await readJsonSubmission(req, adm.paths.inputs, limits, repos)
      : await readMultipartSubmission(req, adm.paths.inputs, limits, repos);
    const rec = await agent.accept(adm, sub);
    sendJson(res, 202, { job_id: rec.id, nonce: rec.nonce }, { Location: `/build/${rec.id}` });
  } catch (err) {
    await adm.release();
    throw err;
  }
}

async function events(
  req: IncomingMessage,
  res: ServerResponse,
  agent: Agent,
  id: string,
  query: URLSearchParams,
): Promise<void> {
  agent.get(id);
  const raw = req.headers['last-event-id'] ?? query.get('last_event_id') ?? undefined;
  let after = 0;
  if (raw !== undefined && raw !== '') {
    const text = Array.isArray(raw) ? (raw[0] ?? '') : raw;
    if (!/^\d{1,15}$/.test(text))
      throw new AgentError(
        'AGENT_BAD_REQUEST',
        'Last-Event-ID: expected an event id (an integer)',
        {
          path: 'Last-Event-ID',
        },
      );
    after = Number(text);
  }
  const sse = new SseStream(res, agent.settings.sseKeepAliveMs);
  let stop: (() => void) | null = null;
  sse.onClose(() => stop?.());
  stop = await agent.followEvents(
    id,
    after,
    (e) => sse.sendPaced(e),
    () => sse.end(),
  );
  if (sse.isClosed) stop();
}

async function result(
  req: IncomingMessage,
  res: ServerResponse,
  agent: Agent,
  id: string,
  head: boolean,
): Promise<void> {
  let r;
  try {
    r = agent.result(id);
  } catch (err) {
    if (!isAgentError(err) || err.code !== 'AGENT_NO_RESULT') throw err;
    // The job exists and ended without a result: the answer says how it ended.
    const rec = agent.get(id);
    throw new DetailedRefusal(err.code, err.message, {
      extra: { job_state: rec.state, ...(rec.error ? { job_error: rec.error } : {}) },
    });
  }
  const etag = `"${r.sha256}"`;
  const headers = {
    'Content-Type': 'application/gzip',
    'Content-Length': r.bytes,
    ETag: etag,
    'Content-Disposition': `attachment; filename="${id}.bundle.tar.gz"`,
    'Cache-Control': 'private, no-cache',
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag });
    res.end();
    return;
  }
  if (head) {
    res.writeHead(200, headers);
    res.end();
    return;
  }
  const stream = createReadStream(r.file, { highWaterMark: 1 << 20 });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => {
      res.writeHead(200, headers);
      stream.pipe(res);
      resolve();
    });
    stream.once('error', reject);
  });
  let sent = 0;
  stream.on('data', (c: string | Buffer) => {
    sent += c.length;
    agent.metrics.bytesServed += c.length;
  });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  res.on('finish', () => {
    if (sent !== r.bytes) return;
    agent.metrics.resultsServed++;
    agent.noteResultFetched(id);
  });
}

/** Starts listening; resolves with the base URL (the real port when 0 was asked for). */
export function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve(`http://${h}:${a.port}`);
    });
  });
}
