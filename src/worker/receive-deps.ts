/**
 * The second phase of a build: the dependency set. The lockfile is read from the verified source
 * and every dependency's bytes are checked against it; what the build needs to find them comes
 * back as environment variables.
 */
import { mkdir } from 'node:fs/promises';
import { extractTar } from '../archive/node.js';
import type { BuildConfig, LockedDependency } from '../provenance/index.js';
import { ProvenanceError } from '../provenance/index.js';
import { readLockedDependencies } from '../provenance/node.js';
import type { BuildReporter, ReceivedBuild } from '../protocol/index.js';
import { DEPS_ARCHIVE_LIMITS } from './context.js';
import { checkDependencies } from './dependencies.js';
import type { WorkspaceLayout } from './environment.js';
import type { PhaseTimer } from './phase-timer.js';
import { refusal } from './refusal.js';

/** The checked dependencies of a build. */
export interface ReceivedDependencies {
  /** As the lockfile pins them, recorded in the provenance. */
  dependencies: LockedDependency[];
  /** The variables that point the toolchain at the verified set. */
  depEnv: Record<string, string>;
}

/** Receives the dependency set into `layout.deps` and checks it against the lockfile. */
export async function receiveDependencies(
  build: ReceivedBuild,
  report: BuildReporter,
  timer: PhaseTimer,
  layout: WorkspaceLayout,
  workdirPath: string,
  config: BuildConfig,
): Promise<ReceivedDependencies> {
  timer.next('receiving-dependencies');
  if (build.request.inputs.deps > 0) {
    report.phase('receiving', 'dependencies');
    await extractTar(build.stream('deps'), layout.deps, {
      symlinks: 'refuse',
      limits: DEPS_ARCHIVE_LIMITS,
    }).catch((e: unknown) => {
      throw refusal(e, 'DEPENDENCY_INVALID', 'the dependency set was refused');
    });
  } else {
    for await (const _ of build.stream('deps'));
    await mkdir(layout.deps, { recursive: true });
  }
  timer.next('verifying-dependencies');
  report.phase('verifying-dependencies');
  const dependencies = await readLockedDependencies(workdirPath, config.language, {
    workdir: build.request.workdir,
  }).catch((e: unknown) => {
    throw refusal(e, 'DEPENDENCY_INVALID', 'the lockfile cannot be read');
  });
  const depEnv = await checkDependencies(layout, dependencies, config).catch((e: unknown) => {
    // Bytes that are not what the lockfile pins are a mismatch; anything else makes the set unusable.
    const mismatch =
      e instanceof ProvenanceError &&
      ['DEPENDENCY_DIGEST_MISMATCH', 'DEPENDENCY_MISSING', 'DEPENDENCY_UNEXPECTED_FILE'].includes(
        e.code,
      );
    throw refusal(
      e,
      mismatch ? 'DEPENDENCY_MISMATCH' : 'DEPENDENCY_INVALID',
      mismatch
        ? 'the dependency set does not match the lockfile'
        : 'the dependencies cannot be used',
    );
  });
  return { dependencies, depEnv };
}
