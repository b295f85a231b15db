/**
 * The dependency check inside the worker: the very same code the host uses
 * (provenance's `checkDependencySet`), run on the received set against the lockfile read from the
 * verified source. Returns the environment that points the toolchain at the verified copies.
 */
import type { BuildConfig, LockedDependency } from '../provenance/index.js';
import { checkDependencySet } from '../provenance/node.js';
import type { WorkspaceLayout } from './environment.js';

/** Checks the received dependency set; returns the build's environment for it. */
export async function checkDependencies(
  layout: WorkspaceLayout,
  deps: readonly LockedDependency[],
  config: BuildConfig,
): Promise<Record<string, string>> {
  const prepared = await checkDependencySet(layout.deps, deps, {
    language: config.language,
    outDir: layout.verifiedDeps,
    allowUnpinned: config.allowUnpinnedDependencies === true,
    // The received set serves this one build: its files move into the verified environment.
    consume: true,
  });
  return prepared.env;
}
