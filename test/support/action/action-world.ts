/**
 * The world an action step runs in, for tests: GitHub's REST API and artifact service
 * (stand-ins), an agent, a repository `example/hello`, and helpers to run the step through the
 * bundled action or through `run(inputs, deps)` with the same stand-ins.
 */
import { join } from 'node:path';
import type { ActionLog, RunDeps, RunResult } from '../../../src/action/deps.js';
import { runArtifacts } from '../../../src/action/artifacts.js';
import { readRunContext } from '../../../src/action/context.js';
import type { GitHubApi } from '../../../src/action/github.js';
import { octokitGitHub } from '../../../src/action/github.js';
import type { ActionInputs } from '../../../src/action/inputs.js';
import { parseInputs } from '../../../src/action/inputs.js';
import { run } from '../../../src/action/run.js';
import { trustedImages } from '../../../src/catalog/index.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import type { ActionAgent } from './action-agent.js';
import { startActionAgent } from './action-agent.js';
import type { RunnerContext, StepResult } from './action-runner.js';
import { runStep } from './action-runner.js';
import type { SimulatedBuilder } from '../bundles/bundle-factory.js';
import { GitHubStandIn } from '../github/github-api.js';
import type { TokenGrant } from '../github/github-api.js';
import { ArtifactServiceStandIn } from '../github/github-artifacts.js';
import type { RunJob } from '../github/github-artifacts.js';
import { tempDirSync } from '../temp.js';

export const REPO = 'example/hello';

/** Stand-ins and agents shared by a test file. */
export interface World {
  gh: GitHubStandIn;
  art: ArtifactServiceStandIn;
  /** The first agent. */
  agent: ActionAgent;
  agents: ActionAgent[];
  stop(): Promise<void>;
}

/** Starts the stand-ins and one agent per builder (one by default). */
export async function startWorld(
  o: {
    builders?: SimulatedBuilder[];
    immutableReleases?: boolean;
    inProcessAgents?: boolean;
    /** GITHUB_SERVER_URL of the stand-in (default https://github.com). */
    serverUrl?: string;
  } = {},
): Promise<World> {
  const gh = await GitHubStandIn.start(
    [
      { owner: 'example', repo: 'hello', immutableReleases: o.immutableReleases ?? false },
      { owner: 'upstream', repo: 'lib' },
    ],
    o.serverUrl === undefined ? {} : { serverUrl: o.serverUrl },
  );
  const art = await ArtifactServiceStandIn.start();
  const agents: ActionAgent[] = [];
  for (const b of o.builders ?? [undefined])
    agents.push(
      await startActionAgent({
        ...(b === undefined ? {} : { builder: b }),
        ...(o.inProcessAgents === true ? { inProcess: true } : {}),
      }),
    );
  return {
    gh,
    art,
    agent: agents[0]!,
    agents,
    stop: async () => {
      for (const a of agents) await a.stop();
      await gh.stop();
      await art.stop();
    },
  };
}

/** A token with the permissions a build job on a tag has. */
export function writeToken(w: World, repo = REPO, extra: Partial<TokenGrant> = {}): string {
  return w.gh.token({ repo, contents: 'write', checks: 'write', ...extra });
}

/** The context of a step of `example/hello`. */
export function stepContext(
  w: World,
  o: Partial<RunnerContext> & { workspace: string; sha: string; job?: RunJob },
): RunnerContext {
  return {
    apiUrl: w.gh.apiUrl,
    serverUrl: w.gh.serverUrl,
    repository: REPO,
    ref: 'refs/heads/main',
    artifacts: w.art,
    job: o.job ?? w.art.job(),
    ...o,
  };
}

/** Runs the bundled action. */
export function runDist(ctx: RunnerContext, inputs: Record<string, string>): Promise<StepResult> {
  return runStep(ctx, inputs);
}

/** A log that records what the action printed. */
export class RecordingLog implements ActionLog {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  readonly groups: string[] = [];
  info(m: string): void {
    this.lines.push(m);
  }
  warning(m: string): void {
    this.warnings.push(m);
  }
  error(m: string): void {
    this.lines.push(`error: ${m}`);
  }
  debug(): void {}
  startGroup(n: string): void {
    this.groups.push(n);
  }
  endGroup(): void {}
  untrusted(text: string): void {
    this.lines.push(text);
  }
}

let images: Promise<RunDeps['defaultImages']> | undefined;

/** The environment a step sees, as variables (what `readRunContext` reads). */
export function runnerEnv(ctx: RunnerContext, runnerTemp: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_API_URL: ctx.apiUrl,
    GITHUB_SERVER_URL: ctx.serverUrl ?? 'https://github.com',
    GITHUB_REPOSITORY: ctx.repository,
    GITHUB_SHA: ctx.sha,
    GITHUB_REF: ctx.ref,
    GITHUB_EVENT_NAME: ctx.eventName ?? 'push',
    GITHUB_RUN_ID: ctx.runId ?? '4242',
    GITHUB_RUN_ATTEMPT: ctx.runAttempt ?? '1',
    GITHUB_WORKSPACE: ctx.workspace,
    RUNNER_TEMP: runnerTemp,
    ACTIONS_RUNTIME_TOKEN: ctx.artifacts.runtimeToken(ctx.job),
    ACTIONS_RESULTS_URL: ctx.artifacts.resultsUrl,
  };
}

/** The inputs `run` gets for `with:` values, as index.ts builds them. */
export function actionInputs(ctx: RunnerContext, withValues: Record<string, string>): ActionInputs {
  const runnerTemp = tempDirSync('action-run-');
  const env = runnerEnv(ctx, runnerTemp);
  return parseInputs((name) => withValues[name] ?? '', readRunContext(env));
}

/**
 * Calls `run(inputs, deps)` in this process with the stand-ins behind the real GitHub and
 * artifact clients. The artifact client reads the runner's variables from `process.env`: they
 * are set for the call.
 */
export async function runInProcess(
  ctx: RunnerContext,
  withValues: Record<string, string>,
  o: {
    signal?: AbortSignal;
    log?: RecordingLog;
    tweak?: (i: ActionInputs) => void;
    /** Wraps the GitHub client (to stage what GitHub shows when). */
    github?: (api: GitHubApi) => GitHubApi;
  } = {},
): Promise<{ result: RunResult; log: RecordingLog; inputs: ActionInputs }> {
  const inputs = actionInputs(ctx, withValues);
  o.tweak?.(inputs);
  const saved = { ...process.env };
  Object.assign(process.env, {
    ACTIONS_RUNTIME_TOKEN: ctx.artifacts.runtimeToken(ctx.job),
    ACTIONS_RESULTS_URL: ctx.artifacts.resultsUrl,
    GITHUB_WORKSPACE: ctx.workspace,
    GITHUB_SERVER_URL: ctx.serverUrl ?? 'https://github.com',
  });
  const log = o.log ?? new RecordingLog();
  images ??= loadImageCatalog().then(trustedImages);
  const deps: RunDeps = {
    github: (o.github ?? ((a: GitHubApi) => a))(octokitGitHub(inputs.githubToken, ctx.apiUrl)),
    artifacts: runArtifacts(),
    log,
    now: () => Date.now(),
    signal: o.signal ?? new AbortController().signal,
    defaultImages: await images,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  };
  try {
    return { result: await run(inputs, deps), log, inputs };
  } finally {
    for (const k of [
      'ACTIONS_RUNTIME_TOKEN',
      'ACTIONS_RESULTS_URL',
      'GITHUB_WORKSPACE',
      'GITHUB_SERVER_URL',
    ])
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
  }
}

/** A trust policy (JSON) trusting `builders` by name, with k = `minBuilders`, simulated allowed. */
export function policyJson(builders: readonly SimulatedBuilder[], minBuilders: number): string {
  return JSON.stringify({
    builders: builders.map((b) => ({ name: b.name, iamRole: b.iamRole })),
    minBuilders,
    allowSimulated: true,
  });
}

/**
 * A release as builders leave it: each builder's bundle (from the bundle factory) under the
 * action's names, and the artifacts of the first one.
 */
export async function seedBuiltRelease(
  w: World,
  o: { tag: string; builders: readonly SimulatedBuilder[]; draft?: boolean; repo?: string },
): Promise<{ releaseId: number; bundles: Map<string, Uint8Array> }> {
  const { makeBundle } = await import('../bundles/bundle-factory.js');
  const { artifactAssetNames } = await import('../../../src/action/naming.js');
  const repoName = (o.repo ?? REPO).split('/')[1]!;
  const assets: { name: string; bytes: Uint8Array }[] = [];
  const bundles = new Map<string, Uint8Array>();
  for (const [i, b] of o.builders.entries()) {
    const made = await makeBundle({ builder: b });
    const name = `${repoName}-${o.tag}.${b.name}.bundle.tar.gz`;
    bundles.set(name, made.bytes);
    assets.push({ name, bytes: made.bytes });
    if (i === 0) {
      const names = artifactAssetNames([...made.contents.artifacts.keys()]);
      for (const [path, bytes] of made.contents.artifacts)
        assets.push({ name: names.get(path)!, bytes });
    }
  }
  const rel = w.gh.seedRelease(o.repo ?? REPO, { tag: o.tag, draft: o.draft ?? false, assets });
  return { releaseId: rel.id, bundles };
}

/** Uploads a bundle as a workflow artifact of `job`, as a builder job of a matrix does. */
export async function uploadBundleArtifact(
  w: World,
  job: RunJob,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  const { runArtifacts } = await import('../../../src/action/artifacts.js');
  const { writeFile } = await import('node:fs/promises');
  const dir = tempDirSync('builder-job-');
  await writeFile(join(dir, `${name}.bundle.tar.gz`), bytes);
  const saved = { token: process.env.ACTIONS_RUNTIME_TOKEN, url: process.env.ACTIONS_RESULTS_URL };
  process.env.ACTIONS_RUNTIME_TOKEN = w.art.runtimeToken(job);
  process.env.ACTIONS_RESULTS_URL = w.art.resultsUrl;
  try {
    await runArtifacts().upload(name, [join(dir, `${name}.bundle.tar.gz`)], dir);
  } finally {
    if (saved.token === undefined) delete process.env.ACTIONS_RUNTIME_TOKEN;
    else process.env.ACTIONS_RUNTIME_TOKEN = saved.token;
    if (saved.url === undefined) delete process.env.ACTIONS_RESULTS_URL;
    else process.env.ACTIONS_RESULTS_URL = saved.url;
  }
}
