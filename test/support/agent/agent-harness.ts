/**
 * Shared helpers of the agent tests: an agent started in-process on loopback (with a scripted
 * executor and a stand-in backend, or the real pipeline), the agent as a real process (for
 * `kill -9`), and HTTP helpers.
 */
import { expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { AgentConfigFile } from '../../../src/agent/config.js';
import { resolveSettings } from '../../../src/agent/config.js';
import type { BuildExecutor } from '../../../src/agent/executor.js';
import { createLogger } from '../../../src/agent/log.js';
import type { RunningAgent } from '../../../src/agent/service.js';
import { startAgent } from '../../../src/agent/service.js';
import { readTokenFile } from '../../../src/agent/auth.js';
import type { ResourceRequest } from '../../../src/agent/resources.js';
import type { EnclaveBackend, EnclaveSpec } from '../../../src/enclave/types.js';
import { BIN } from '../cli/cli.js';

/** A token for tests (the agent requires at least 16 characters). */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface TestAgent {
  url: string;
  dataDir: string;
  running: RunningAgent;
  /** The agent's log lines (parsed JSON). */
  logs: Record<string, unknown>[];
  /** fetch with the bearer token (unless `auth: false`). */
  fetch: (path: string, init?: RequestInit & { auth?: boolean }) => Promise<Response>;
  stop: () => Promise<void>;
}

export interface TestAgentOptions {
  executor: BuildExecutor;
  backend: EnclaveBackend;
  config?: AgentConfigFile;
  /** Require the token (default true). */
  auth?: boolean;
  /** Reuse a data directory (restart). */
  dataDir?: string;
  /** The agent's clock (ms), for retention tests. */
  clock?: () => number;
  /** What the backend really takes for a spec (as `tee-compile agent` gives the nitro backend). */
  sizing?: (spec: EnclaveSpec) => ResourceRequest | Promise<ResourceRequest>;
}

/** Makes a temporary directory removed by the returned function. */
export async function tempDir(prefix = 'tc-agent-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Starts an agent in this process on 127.0.0.1 with a free port. */
export async function startTestAgent(o: TestAgentOptions): Promise<TestAgent> {
  const dataDir = o.dataDir ?? (await tempDir());
  const auth = o.auth ?? true;
  let tokenFile: string | undefined;
  if (auth) {
    tokenFile = join(dataDir, '..', `${dataDir.split('/').pop()}.token`);
    await writeFile(tokenFile, TEST_TOKEN + '\n', { mode: 0o600 });
  }
  const file: AgentConfigFile = {
    backend: 'local',
    listen: '127.0.0.1:0',
    dataDir,
    maxConcurrent: 2,
    logLevel: 'debug',
    shutdownGraceSeconds: 2,
    ...(tokenFile ? { tokenFile } : {}),
    ...o.config,
    limits: { minFreeBytes: 0, ...o.config?.limits },
  };
  const settings = await resolveSettings(file, {}, { cwd: process.cwd() });
  const logs: Record<string, unknown>[] = [];
  const out = new PassThrough();
  let buffered = '';
  out.on('data', (b: Buffer) => {
    buffered += b.toString('utf8');
    let i;
    while ((i = buffered.indexOf('\n')) >= 0) {
      logs.push(JSON.parse(buffered.slice(0, i)) as Record<string, unknown>);
      buffered = buffered.slice(i + 1);
    }
  });
  const running = await startAgent({
    settings,
    backend: o.backend,
    executor: o.executor,
    logger: createLogger(out, 'debug'),
    token: tokenFile ? await readTokenFile(tokenFile) : null,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.sizing ? { sizing: o.sizing } : {}),
  });
  return {
    url: running.url,
    dataDir,
    running,
    logs,
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (init.auth !== false && auth) headers.set('Authorization', `Bearer ${TEST_TOKEN}`);
      return fetch(running.url + path, { ...init, headers });
    },
    stop: () => running.stop(),
  };
}

/** Removes a directory tree. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Reads a JSON response body. */
export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** POSTs `body` to /build as JSON. */
export async function postBuild(agent: TestAgent, body: unknown): Promise<Response> {
  return agent.fetch('/build', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** POSTs `body` to /build as JSON, expects 202 and returns the job id. */
export async function submitBuild(agent: TestAgent, body: unknown): Promise<string> {
  const res = await postBuild(agent, body);
  expect(res.status).toBe(202);
  return (await json<{ job_id: string }>(res)).job_id;
}

/** Polls a job until it is finished; returns its view. */
export async function waitFinished(
  get: (path: string) => Promise<Response>,
  id: string,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await get(`/build/${id}`);
    const view = await json(res);
    if (['succeeded', 'failed', 'cancelled'].includes(view.state as string)) return view;
    if (Date.now() > until) throw new Error(`job ${id} still ${String(view.state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls until `predicate` holds. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The agent as a real process (the built CLI), for crash tests. */
export interface AgentProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  logs: Record<string, unknown>[];
  /** Resolves with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `tee-compile agent args…` and waits for its `listening` log line. */
export function spawnAgent(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentProcess> {
  const child = spawn(process.execPath, [BIN, 'agent', ...args], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let buffered = '';
    let raw = '';
    child.stderr.on('data', (b: Buffer) => {
      buffered += b.toString('utf8');
      let i;
      while ((i = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          raw += line + '\n';
          continue;
        }
        logs.push(entry);
        if (entry.msg === 'listening') resolve({ child, url: String(entry.url), logs, exited });
      }
    });
    child.stdout.resume();
    void exited.then(({ code, signal }) =>
      reject(
        new Error(
          `agent exited (${code ?? signal}) before listening:\n${raw}${JSON.stringify(logs)}`,
        ),
      ),
    );
  });
}

/** One event as an SSE client received it. */
export interface ReceivedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * Follows a job's event stream with the `eventsource` package (a real SSE client) until
 * `complete`; resolves with every event received. `lastEventId` resumes after that id.
 */
export async function followEvents(
  url: string,
  jobId: string,
  opts: { token?: string; lastEventId?: string; timeoutMs?: number } = {},
): Promise<ReceivedEvent[]> {
  const { EventSource } = await import('eventsource');
  const token = opts.token ?? TEST_TOKEN;
  const got: ReceivedEvent[] = [];
  return new Promise((resolve, reject) => {
    const es = new EventSource(`${url}/build/${jobId}/events`, {
      fetch: (input, init) => {
        const headers: Record<string, string> = {
          ...(init?.headers as Record<string, string>),
          Authorization: `Bearer ${token}`,
        };
        if (opts.lastEventId !== undefined && got.length === 0)
          headers['Last-Event-ID'] = opts.lastEventId;
        return fetch(input, { ...init, headers });
      },
    });
    const timer = setTimeout(() => {
      es.close();
      reject(new Error(`no complete event within the time limit; got ${JSON.stringify(got)}`));
    }, opts.timeoutMs ?? 120_000);
    const on = (type: string) => (e: MessageEvent) => {
      got.push({
        id: e.lastEventId,
        type,
        data: JSON.parse(String(e.data)) as Record<string, unknown>,
      });
      if (type === 'complete') {
        clearTimeout(timer);
        es.close();
        resolve(got);
      }
    };
    for (const t of ['queued', 'started', 'phase', 'log', 'complete'])
      es.addEventListener(t, on(t));
    es.onerror = (e) => {
      if ((e as { code?: number }).code !== undefined) {
        clearTimeout(timer);
        es.close();
        reject(new Error(`event stream error ${String((e as { code?: number }).code)}`));
      }
    };
  });
}
