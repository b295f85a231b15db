/**
 * The workflow run the action is in, read once from the runner's environment (`GITHUB_*`,
 * `RUNNER_TEMP`) and the event payload. Missing or malformed values are refused naming the
 * variable: the action only makes sense inside a GitHub Actions job.
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ActionError } from './errors.js';

/** Largest event payload read (GitHub caps webhook payloads at 25 MB). */
export const MAX_EVENT_BYTES = 25 * 1024 * 1024;

/** An `owner/name` repository. */
export interface RepoRef {
  owner: string;
  repo: string;
}

/** The workflow run, as the runner describes it. */
export interface RunContext {
  repository: RepoRef;
  /** `GITHUB_SERVER_URL`, e.g. https://github.com (links in summaries). */
  serverUrl: string;
  /** `GITHUB_API_URL`, e.g. https://api.github.com. */
  apiUrl: string;
  /** `GITHUB_SHA`: the commit the workflow runs on (a merge commit for pull requests). */
  sha: string;
  /** `GITHUB_REF`, e.g. refs/tags/v1.0.0. */
  ref: string;
  eventName: string;
  runId: string;
  runAttempt: string;
  workspace: string;
  runnerTemp: string;
  /** Where check runs go: the head of the pull request for pull request events, else `sha`. */
  checkSha: string;
  /** The tag when `ref` is a tag. */
  tag: string | null;
  /** The pull request number for pull request events. */
  pullRequest: number | null;
}

const REPO_RE = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/;
const SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function missing(name: string): ActionError {
  return new ActionError(
    'INPUT_INVALID',
    `${name} is not set: the action runs inside a GitHub Actions job`,
    { path: name },
  );
}

/** Parses `owner/repo`; null when it is not that form. */
export function parseRepo(value: string): RepoRef | null {
  const m = REPO_RE.exec(value);
  if (m === null || m[2] === '.' || m[2] === '..') return null;
  return { owner: m[1]!, repo: m[2]! };
}

function url(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = env[name] ?? '';
  if (v === '') return fallback;
  try {
    const u = new URL(v);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new ActionError(
      'INPUT_INVALID',
      `${name}: expected an http(s) URL, got ${JSON.stringify(v)}`,
      {
        path: name,
      },
    );
  }
  return v.replace(/\/+$/, '');
}

interface EventPayload {
  pull_request?: { number?: unknown; head?: { sha?: unknown } };
}

function readEvent(path: string | undefined): EventPayload {
  if (path === undefined || path === '') return {};
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_EVENT_BYTES) throw new Error(`larger than ${MAX_EVENT_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (e) {
    throw new ActionError(
      'INPUT_INVALID',
      `GITHUB_EVENT_PATH: cannot read the event payload: ${(e as Error).message}`,
      { path: 'GITHUB_EVENT_PATH', cause: e },
    );
  }
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? v : {};
  } catch (e) {
    throw new ActionError('INPUT_INVALID', 'GITHUB_EVENT_PATH: the event payload is not JSON', {
      path: 'GITHUB_EVENT_PATH',
      cause: e,
    });
  }
}

/**
 * The repository's URL on its GitHub server (`GITHUB_SERVER_URL/owner/repo`): what build mode has
 * the agent record as the source's repository, and checks in the bundle.
 */
export function repositoryUrl(ctx: Pick<RunContext, 'serverUrl' | 'repository'>): string {
  return `${ctx.serverUrl}/${ctx.repository.owner}/${ctx.repository.repo}`;
}

/** Reads the run context from the runner's environment. */
export function readRunContext(env: NodeJS.ProcessEnv): RunContext {
  const repoText = env.GITHUB_REPOSITORY ?? '';
  if (repoText === '') throw missing('GITHUB_REPOSITORY');
  const repository = parseRepo(repoText);
  if (repository === null)
    throw new ActionError(
      'INPUT_INVALID',
      `GITHUB_REPOSITORY: expected owner/repo, got ${JSON.stringify(repoText)}`,
      { path: 'GITHUB_REPOSITORY' },
    );
  const sha = (env.GITHUB_SHA ?? '').toLowerCase();
  if (sha === '') throw missing('GITHUB_SHA');
  if (!SHA_RE.test(sha))
    throw new ActionError('INPUT_INVALID', 'GITHUB_SHA: expected a full commit id', {
      path: 'GITHUB_SHA',
    });
  const runId = env.GITHUB_RUN_ID ?? '';
  if (!/^[0-9]{1,20}$/.test(runId))
    throw runId === ''
      ? missing('GITHUB_RUN_ID')
      : new ActionError('INPUT_INVALID', 'GITHUB_RUN_ID: expected a number', {
          path: 'GITHUB_RUN_ID',
        });
  const runAttempt =
    env.GITHUB_RUN_ATTEMPT === undefined || env.GITHUB_RUN_ATTEMPT === ''
      ? '1'
      : env.GITHUB_RUN_ATTEMPT;
  if (!/^[0-9]{1,10}$/.test(runAttempt))
    throw new ActionError('INPUT_INVALID', 'GITHUB_RUN_ATTEMPT: expected a number', {
      path: 'GITHUB_RUN_ATTEMPT',
    });
  const ref = env.GITHUB_REF ?? '';
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  const event = readEvent(env.GITHUB_EVENT_PATH);
  const isPull = eventName === 'pull_request' || eventName === 'pull_request_target';
  const headSha = event.pull_request?.head?.sha;
  const number = event.pull_request?.number;
  return {
    repository,
    serverUrl: url(env, 'GITHUB_SERVER_URL', 'https://github.com'),
    apiUrl: url(env, 'GITHUB_API_URL', 'https://api.github.com'),
    sha,
    ref,
    eventName,
    runId,
    runAttempt,
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    runnerTemp: env.RUNNER_TEMP || tmpdir(),
    checkSha:
      isPull && typeof headSha === 'string' && SHA_RE.test(headSha.toLowerCase())
        ? headSha.toLowerCase()
        : sha,
    tag: ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : null,
    pullRequest:
      isPull && typeof number === 'number' && Number.isSafeInteger(number) ? number : null,
  };
}
