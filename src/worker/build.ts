/**
 * One build inside the enclave, as the protocol's build handler, in four phases each in a file of
 * its own: receive the config, commit and source and check them against the claims
 * (receive-source.ts); receive the dependencies and check them against the lockfile
 * (receive-deps.ts); run the command offline (run-phase.ts); hash the outputs, write and attest
 * the provenance and write the bundle (attest-phase.ts). Nothing from the host is taken on faith.
 */
import type {
  BuildHandler,
  BuildOutcome,
  BuildReporter,
  ReceivedBuild,
} from '../protocol/index.js';
import { WorkerError, isProtocolError } from '../protocol/index.js';
import { toHex } from '../util/hex.js';
import { attestAndBundle, sha256 } from './attest-phase.js';
import type { WorkerContext } from './context.js';
import { workspaceLayout } from './environment.js';
import { PhaseTimer } from './phase-timer.js';
import { receiveDependencies } from './receive-deps.js';
import { receiveSource } from './receive-source.js';
import { runBuildCommand } from './run-phase.js';

export type { EnclaveFacts, WorkerContext, WorkerImage } from './context.js';
export { DEFAULT_BUILD_TIMEOUT_S } from './run-phase.js';
export { DEPS_ARCHIVE_LIMITS, SOURCE_ARCHIVE_LIMITS } from './context.js';

/** The build handler of a worker with context `ctx`. */
export function createBuildHandler(ctx: WorkerContext): BuildHandler {
  return async (build, report) => {
    try {
      return await runBuild(ctx, build, report);
    } catch (err) {
      if (err instanceof WorkerError || isProtocolError(err)) return { ok: false, error: err };
      throw err;
    }
  };
}

async function runBuild(
  ctx: WorkerContext,
  build: ReceivedBuild,
  report: BuildReporter,
): Promise<BuildOutcome> {
  const startedOn = new Date();
  const timer = new PhaseTimer('receiving');
  const layout = workspaceLayout(ctx.workspace);
  const received = await receiveSource(ctx.image, build, report, timer, layout);
  const { config, epoch, workdirPath, git } = received;
  const { dependencies, depEnv } = await receiveDependencies(
    build,
    report,
    timer,
    layout,
    workdirPath,
    config,
  );
  const ran = await runBuildCommand(ctx, build, report, timer, layout, {
    config,
    epoch,
    workdirPath,
    git,
    depEnv,
    // Signatures are read while the command runs (origin.ts).
    alongside: () => void received.origin.descriptors().catch(() => undefined),
  });
  if (!ran.ok) return ran;
  return attestAndBundle(ctx, build, report, timer, layout, {
    startedOn,
    config,
    source: received.source,
    origin: await received.origin.descriptors(),
    git,
    dependencies,
    result: ran.result,
    toolchainFound: ran.toolchainFound,
  });
}

/** Hex of the attestation's user_data for given provenance bytes (for logs and tests). */
export function userDataOf(provenance: Uint8Array): string {
  return toHex(sha256(provenance));
}
