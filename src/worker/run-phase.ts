/**
 * The third phase of a build: the workspace is made ready (folders, owner, the .git index), the
 * environment is set and the build command runs offline, while the toolchain is identified
 * beside it. A command that fails, times out or runs out of memory is the build's failure.
 */
import { chmod, mkdir, statfs } from 'node:fs/promises';
import type { BuildConfig, ToolchainComponent } from '../provenance/index.js';
import { detectToolchain } from '../provenance/node.js';
import type { BuildReporter, ReceivedBuild } from '../protocol/index.js';
import { ProtocolError, WorkerError } from '../protocol/index.js';
import type { CommandResult } from './command.js';
import { runCommand } from './command.js';
import type { WorkerContext } from './context.js';
import type { WorkspaceLayout } from './environment.js';
import { buildEnvironment, toolchainEnv } from './environment.js';
import type { GitWorkspace } from './git-workspace.js';
import { writeGitIndex } from './git-workspace.js';
import { giveToBuildUser } from './jail.js';
import type { PhaseTimer } from './phase-timer.js';

/** Build time limit when build.json sets none (seconds). */
export const DEFAULT_BUILD_TIMEOUT_S = 3600;

/** The toolchain as identified while the command ran, or why it could not be. */
export type ToolchainFound = { ok: true; t: ToolchainComponent[] } | { ok: false; e: unknown };

/** What the build command's run gives the next phase, or the build's failure. */
export type CommandRun =
  | { ok: true; result: CommandResult; toolchainFound: Promise<ToolchainFound> }
  | { ok: false; error: WorkerError };

/** statfs's type of a tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;

/**
 * The size in MiB of the workspace when it is a tmpfs that its build filled (less than 1 MiB
 * free), else undefined. The local backend's workspace is in memory, as an enclave's is, and
 * bounded by the build's memory: a build that fills it fails writing (ENOSPC), which is its
 * memory running out, not a fault of the build command.
 */
async function filledTmpfsMiB(root: string): Promise<number | undefined> {
  const st = await statfs(root).catch(() => undefined);
  if (st === undefined || st.type !== TMPFS_MAGIC || st.blocks === 0) return undefined;
  return st.bavail * st.bsize < 1024 * 1024
    ? Math.round((st.blocks * st.bsize) / (1024 * 1024))
    : undefined;
}

/** Why a command that did not succeed failed, as the build's error (see `runBuildCommand`). */
async function commandFailure(
  result: CommandResult,
  timeoutS: number,
  workspace: string,
): Promise<WorkerError> {
  if (result.timedOut)
    return new WorkerError(
      'BUILD_TIMEOUT',
      `the build command ran longer than its limit of ${timeoutS} s and was killed`,
    );
  const filled = await filledTmpfsMiB(workspace);
  if (filled !== undefined)
    return new WorkerError(
      'BUILD_OUT_OF_MEMORY',
      `the build filled its workspace, which is in memory as in an enclave (${filled} MiB of the build's memory); raise resources.memoryMiB in build.json`,
      { path: 'resources.memoryMiB' },
    );
  if (result.outOfMemory)
    return new WorkerError(
      'BUILD_OUT_OF_MEMORY',
      'the build command was killed for exceeding the memory limit',
    );
  return new WorkerError(
    'BUILD_FAILED',
    result.signal
      ? `the build command was killed by ${result.signal}`
      : `the build command exited with status ${result.exitCode}`,
  );
}

/** What the run needs from the phases before it. */
export interface RunInputs {
  config: BuildConfig;
  epoch: number;
  workdirPath: string;
  git: GitWorkspace | null;
  depEnv: Record<string, string>;
  /** Work of the worker's own started once the command runs, beside the toolchain's identification. */
  alongside?: () => void;
}

/** Prepares the workspace and runs the build command; a cancelled build throws its reason. */
export async function runBuildCommand(
  ctx: WorkerContext,
  build: ReceivedBuild,
  report: BuildReporter,
  timer: PhaseTimer,
  layout: WorkspaceLayout,
  inputs: RunInputs,
): Promise<CommandRun> {
  const { config, epoch, workdirPath, git, depEnv } = inputs;
  for (const d of [layout.home, layout.tmp, layout.cache, layout.out])
    await mkdir(d, { recursive: true });
  if (ctx.jail) {
    // The jailed command writes where the build expects to; the bundle's folder stays the
    // worker's alone.
    await chmod(layout.out, 0o700);
    await giveToBuildUser(
      [layout.src, layout.deps, layout.verifiedDeps, layout.home, layout.tmp, layout.cache],
      ctx.jail.uid,
      ctx.jail.gid,
    );
  }
  // The index holds the files' stat data as the build will find them (owner included).
  if (git !== null) await writeGitIndex(git, ctx.jail);
  const toolEnv = toolchainEnv(ctx.env);
  const env = buildEnvironment({
    toolchain: toolEnv,
    layout,
    sourceDateEpoch: epoch,
    dependencies: depEnv,
    config: config.input.env,
  });
  timer.next('building');
  report.phase('building', config.input.cmd.slice(0, 200));
  const timeoutS = config.timeout ?? DEFAULT_BUILD_TIMEOUT_S;
  // What the worker does while the command runs starts once the command's process exists (in
  // the worker's process, it then yields the CPU to the command: start.ts). The toolchain does
  // not change during the build: it is identified (its binaries hashed) meanwhile.
  const identify = (): Promise<ToolchainFound> =>
    detectToolchain(config.language, env).then(
      (t) => ({ ok: true as const, t }),
      (e: unknown) => ({ ok: false as const, e }),
    );
  let toolchainFound: Promise<ToolchainFound> | undefined;
  const running = runCommand({
    cmd: config.input.cmd,
    cwd: workdirPath,
    env,
    timeoutMs: timeoutS * 1000,
    signal: build.signal,
    onLine: (l) => report.log(l),
    ...(ctx.jail ? { jail: ctx.jail } : {}),
    onSpawned: () => {
      ctx.whileBuilding?.();
      toolchainFound = identify();
      inputs.alongside?.();
    },
  });
  const result = await running;
  if (result.cancelled)
    throw build.signal.reason instanceof Error
      ? build.signal.reason
      : new ProtocolError('PROTOCOL_CANCELLED', 'the build was cancelled');
  if (result.timedOut || result.outOfMemory || result.exitCode !== 0) {
    const e = await commandFailure(result, timeoutS, layout.root);
    e.exitCode = result.exitCode;
    e.signal = result.signal;
    e.logTail = result.tail;
    return { ok: false, error: e };
  }
  return { ok: true, result, toolchainFound: toolchainFound ?? identify() };
}
