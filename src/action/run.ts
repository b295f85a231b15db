/**
 * One run of the action: a check run on the commit (opened at the start, completed with the
 * result), then build or verify mode. Our own errors become a failed result with a summary that
 * says why; anything else is a bug and propagates (after the check run is closed).
 */
import { runBuildMode } from './build.js';
import type { RunDeps, RunResult } from './deps.js';
import { isActionError } from './errors.js';
import type { CheckConclusion } from './github.js';
import type { ActionInputs } from './inputs.js';
import { fitCheckSummary, title as checkTitle } from './markdown.js';
import { failureSummary } from './summary.js';
import { runVerifyMode } from './verify.js';

async function openCheck(inputs: ActionInputs, deps: RunDeps): Promise<number | null> {
  if (inputs.githubToken === '') return null;
  const ctx = inputs.context;
  try {
    return await deps.github.createCheckRun(ctx.repository, {
      name: inputs.checkName,
      headSha: ctx.checkSha,
      detailsUrl: `${ctx.serverUrl}/${ctx.repository.owner}/${ctx.repository.repo}/actions/runs/${ctx.runId}`,
      output: {
        title: inputs.mode === 'build' ? 'building in an attested enclave' : 'verifying',
        summary: 'In progress: the job log shows each step.',
      },
    });
  } catch (e) {
    if (!isActionError(e)) throw e;
    // Pull requests from forks get a read-only token: the summary still carries the result.
    deps.log.warning(`no check run: ${e.message}`);
    return null;
  }
}

async function closeCheck(
  inputs: ActionInputs,
  deps: RunDeps,
  id: number | null,
  conclusion: CheckConclusion,
  title: string,
  summary: string,
): Promise<void> {
  if (id === null) return;
  try {
    await deps.github.completeCheckRun(inputs.context.repository, id, {
      conclusion,
      output: { title: checkTitle(title), summary: fitCheckSummary(summary) },
    });
  } catch (e) {
    if (!isActionError(e)) throw e;
    deps.log.warning(`the check run could not be completed: ${e.message}`);
  }
}

/** Runs the action with validated inputs (see the module comment). */
export async function run(inputs: ActionInputs, deps: RunDeps): Promise<RunResult> {
  const check = await openCheck(inputs, deps);
  let result: RunResult;
  try {
    result =
      inputs.mode === 'build'
        ? await runBuildMode(inputs, deps)
        : await runVerifyMode(inputs, deps);
  } catch (e) {
    if (!isActionError(e)) {
      await closeCheck(
        inputs,
        deps,
        check,
        'failure',
        'internal error',
        'The action failed unexpectedly: see the job log.',
      );
      throw e;
    }
    const heading = inputs.mode === 'build' ? 'Attested build' : 'Attested release';
    result = {
      ok: false,
      code: e.code,
      failure: e.message,
      outputs: { verified: 'false', code: e.code },
      title: e.message,
      summary: failureSummary(heading, e),
    };
    if (e.path !== undefined) result.path = e.path;
    await closeCheck(
      inputs,
      deps,
      check,
      e.code === 'CANCELLED' ? 'cancelled' : 'failure',
      e.message,
      result.summary,
    );
    return result;
  }
  await closeCheck(
    inputs,
    deps,
    check,
    result.ok ? 'success' : 'failure',
    result.title,
    result.summary,
  );
  return result;
}
