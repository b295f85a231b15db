/**
 * The action's edge: the only place that reads inputs (`core.getInput`) and the runner's
 * environment, builds the typed inputs and the real dependencies (GitHub, the artifact service,
 * the log), runs, and reports outputs, the job summary and failure. SIGINT/SIGTERM (the runner
 * cancelling the step) cancel the build on the agent before the process ends.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { trustedImages } from '../catalog/index.js';
import { loadImageCatalog } from '../catalog/node.js';
import { fetchGitHubJwks, runnerIdTokenSource } from './oidc.js';
import { runArtifacts } from './artifacts.js';
import { readRunContext } from './context.js';
import type { ActionLog, RunDeps } from './deps.js';
import { isActionError } from './errors.js';
import { octokitGitHub } from './github.js';
import { parseInputs } from './inputs.js';
import { run } from './run.js';
import { failureSummary } from './summary.js';

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
    const context = readRunContext(process.env);
    const inputs = parseInputs((name) => core.getInput(name), context);
    if (inputs.mode === 'build' && inputs.agentToken !== null) core.setSecret(inputs.agentToken);
    const deps: RunDeps = {
      github: octokitGitHub(inputs.githubToken, context.apiUrl),
      artifacts: runArtifacts(),
      log: actionLog(),
      now: () => Date.now(),
      signal: controller.signal,
      defaultImages: trustedImages(await loadImageCatalog(CATALOG)),
      env: process.env,
      idToken: runnerIdTokenSource(process.env),
      oidcKeys: () => fetchGitHubJwks(),
    };
    const result = await run(inputs, deps);
    for (const [k, v] of Object.entries(result.outputs)) core.setOutput(k, v);
    await writeSummary(result.summary);
    if (!result.ok) core.setFailed(result.failure ?? 'failed');
  } catch (e) {
    core.setOutput('verified', 'false');
    const message = isActionError(e)
      ? `${e.code}: ${e.message}`
      : `internal error: ${(e as Error)?.stack ?? String(e)}`;
    await writeSummary(failureSummary('tee-compile', message));
    core.setFailed(message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
