/**
 * Runs the bundled action (dist/index.js) the way the runner does: `node dist/index.js` with the
 * inputs as `INPUT_*` variables, the run's `GITHUB_*` variables, `RUNNER_TEMP`, the artifact
 * service's `ACTIONS_RUNTIME_TOKEN`/`ACTIONS_RESULTS_URL`, and `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY`
 * files read back afterwards. Workflow commands on stdout are parsed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactServiceStandIn, RunJob } from '../github/github-artifacts.js';
import { tempDirSync } from '../temp.js';

/** The bundled action. */
export const DIST = fileURLToPath(new URL('../../../dist/index.js', import.meta.url));

/** The workflow run a step belongs to. */
export interface RunnerContext {
  apiUrl: string;
  /** GITHUB_SERVER_URL; default https://github.com. */
  serverUrl?: string;
  repository: string;
  sha: string;
  ref: string;
  eventName?: string;
  /** The event payload written to GITHUB_EVENT_PATH. */
  event?: Record<string, unknown>;
  runId?: string;
  runAttempt?: string;
  workspace: string;
  artifacts: ArtifactServiceStandIn;
  job: RunJob;
  /**
   * More of the job's environment, as the runner sets it: `ACTIONS_ID_TOKEN_REQUEST_URL` and
   * `_TOKEN` when the job has `permissions: id-token: write`; the AWS credentials a configure
   * step leaves.
   */
  env?: Record<string, string>;
}

/** What a step run left behind. */
export interface StepResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  errors: string[];
  warnings: string[];
  groups: string[];
  runnerTemp: string;
}

/** `INPUT_<NAME>` as @actions/core reads it (spaces as `_`, upper case, hyphens kept). */
export function inputVar(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** Parses a GITHUB_OUTPUT file (`name<<delimiter` blocks, or `name=value` lines). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc !== null) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      out[heredoc[1]!] = value.join('\n');
    } else if (line.includes('='))
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return out;
}

/** Starts the action; resolves when it exits. `onStart` sees the child (to signal it). */
export function runStep(
  ctx: RunnerContext,
  inputs: Record<string, string>,
  onStart?: (child: ChildProcess, stdout: () => string) => void,
): Promise<StepResult> {
  const dir = tempDirSync('action-step-');
  const runnerTemp = join(dir, 'temp');
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  const eventFile = join(dir, 'event.json');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  writeFileSync(eventFile, JSON.stringify(ctx.event ?? {}));
  // The job's environment reaches the step: the machine's network settings (CA bundle, proxies).
  const passed = Object.fromEntries(
    Object.entries(process.env).filter(([k]) =>
      /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|HTTPS?_PROXY|https?_proxy|npm_config_registry)$/.test(
        k,
      ),
    ),
  );
  const env: NodeJS.ProcessEnv = {
    ...passed,
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    NO_PROXY: '127.0.0.1,localhost',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_API_URL: ctx.apiUrl,
    GITHUB_SERVER_URL: ctx.serverUrl ?? 'https://github.com',
    GITHUB_REPOSITORY: ctx.repository,
    GITHUB_SHA: ctx.sha,
    GITHUB_REF: ctx.ref,
    GITHUB_EVENT_NAME: ctx.eventName ?? (ctx.ref.startsWith('refs/tags/') ? 'push' : 'push'),
    GITHUB_EVENT_PATH: eventFile,
    GITHUB_RUN_ID: ctx.runId ?? '4242',
    GITHUB_RUN_ATTEMPT: ctx.runAttempt ?? '1',
    GITHUB_WORKSPACE: ctx.workspace,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: runnerTemp,
    ACTIONS_RUNTIME_TOKEN: ctx.artifacts.runtimeToken(ctx.job),
    ACTIONS_RESULTS_URL: ctx.artifacts.resultsUrl,
    ...ctx.env,
  };
  for (const [k, v] of Object.entries(inputs)) env[inputVar(k)] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST], {
      cwd: ctx.workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    onStart?.(child, () => stdout);
    child.on('close', (code, signal) => {
      const lines = stdout.split('\n');
      const cmd = (name: string): string[] =>
        lines.filter((l) => l.startsWith(`::${name}`)).map((l) => l.slice(l.indexOf('::', 2) + 2));
      resolve({
        code,
        signal,
        stdout,
        stderr,
        outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
        summary: readFileSync(summaryFile, 'utf8'),
        errors: cmd('error'),
        warnings: cmd('warning'),
        groups: cmd('group'),
        runnerTemp,
      });
    });
  });
}
