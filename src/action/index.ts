/**
 * The action's edge: the only place that reads inputs (`core.getInput`) and the runner's
 * environment, builds the typed inputs and the real dependencies (GitHub, the artifact service,
 * the log), runs, and reports outputs, the job summary and failure. SIGINT/SIGTERM (the runner
 * cancelling the step) cancel the build on the agent before the process ends.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { trustedImages } from '../catalog/index.js';
import { loadImageCatalog } from '../catalog/node.js';
import { fetchGitHubJwks, githubJwksUrl, runnerIdTokenSource } from './oidc.js';
import { runArtifacts } from './artifacts.js';
import { readRunContext } from './context.js';
import type { ActionLog, RunDeps } from './deps.js';
import { isActionError } from './errors.js';
import { octokitGitHub } from './github.js';
import { parseInputs } from './inputs.js';
import { run } from './run.js';
import { failureSummary } from './summary.js';
import { isEc2Error, runEc2 } from '../ec2/index.js';

/** The action's own version (package.json next to dist/), installed on the builders it launches. */
function packageVersion(): string {
  try {
    const text = readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return '';
  }
}

/**
 * `mode: launch | stop | sweep`: the EC2 builder life cycle (src/ec2), with the inputs of
 * `tee-compile ec2` of the same names; GitHub values default to the workflow's.
 */
async function runEc2Mode(mode: 'launch' | 'stop' | 'sweep'): Promise<void> {
  const env = process.env;
  const defaults: Record<string, string> = {
    repository: env.GITHUB_REPOSITORY ?? '',
    'github-api-url': env.GITHUB_API_URL ?? '',
    run: `${env.GITHUB_REPOSITORY ?? ''}/${env.GITHUB_RUN_ID ?? ''}/${env.GITHUB_RUN_ATTEMPT ?? '1'}`,
  };
  const get = (n: string): string => core.getInput(n) || defaults[n] || '';
  const token = core.getInput('github-token');
  if (token !== '') core.setSecret(token);
  try {
    const out = await runEc2(mode, get, {
      env,
      catalog: () => loadImageCatalog(CATALOG),
      version: packageVersion(),
      now: () => Date.now(),
      log: (m) => core.info(m),
    });
    for (const [k, v] of Object.entries(out.outputs)) core.setOutput(k, v);
  } catch (e) {
    if (!isEc2Error(e)) throw e;
    core.setOutput('code', e.code);
    core.setFailed(`${e.message} (${e.code})`);
  }
}

/** The published image list, shipped next to the action's bundle (dist/ -> ../enclave/). */
const CATALOG = fileURLToPath(new URL('../enclave/images.json', import.meta.url));

function actionLog(): ActionLog {
  return {
    info: (m) => core.info(m),
    warning: (m) => core.warning(m),
    error: (m) => core.error(m),
    debug: (m) => core.debug(m),
    startGroup: (n) => core.startGroup(n),
    endGroup: () => core.endGroup(),
    untrusted(text) {
      // The build's output is not ours: any `::command::` in it must stay text.
      const token = randomBytes(16).toString('hex');
      process.stdout.write(`::stop-commands::${token}\n${text}\n::${token}::\n`);
    },
  };
}

/** Writes the job summary when the runner provides one (not when run by hand). */
async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  try {
    await core.summary.addRaw(markdown).write();
  } catch (e) {
    core.warning(`the job summary could not be written: ${(e as Error).message}`);
  }
}

/** Runs the action as the runner starts it; never throws (failures go to `core.setFailed`). */
export async function main(): Promise<void> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    core.warning(`${signal}: cancelling`);
    controller.abort(signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const mode = core.getInput('mode');
    if (mode === 'launch' || mode === 'stop' || mode === 'sweep') return await runEc2Mode(mode);
    const context = readRunContext(process.env);
    const inputs = parseInputs((name) => core.getInput(name), context);
    if (inputs.mode === 'build' && inputs.agentToken !== null) core.setSecret(inputs.agentToken);
    if (inputs.mode === 'verify' && inputs.vsa !== null && 'keyPem' in inputs.vsa)
      core.setSecret(inputs.vsa.keyPem);
    const deps: RunDeps = {
      github: octokitGitHub(inputs.githubToken, context.apiUrl),
      artifacts: runArtifacts(),
      log: actionLog(),
      now: () => Date.now(),
      signal: controller.signal,
      defaultImages: trustedImages(await loadImageCatalog(CATALOG)),
      env: process.env,
      idToken: runnerIdTokenSource(process.env),
      oidcKeys: () => fetchGitHubJwks(githubJwksUrl(process.env)),
    };
    const result = await run(inputs, deps);
    for (const [k, v] of Object.entries(result.outputs)) core.setOutput(k, v);
    await writeSummary(result.summary);
    if (!result.ok) core.setFailed(`${result.failure} (${result.code})`);
  } catch (e) {
    core.setOutput('verified', 'false');
    if (isActionError(e)) {
      core.setOutput('code', e.code);
      await writeSummary(failureSummary('tee-compile', e));
      core.setFailed(`${e.message} (${e.code})`);
    } else {
      const message = `internal error: ${(e as Error)?.stack ?? String(e)}`;
      await writeSummary(failureSummary('tee-compile', { message }));
      core.setFailed(message);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
