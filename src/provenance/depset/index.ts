/**
 * Dependency sets: the locked dependencies of a project as files named by their lockfile
 * checksums. `fetchDependencySet` fills one on the host (untrusted: it is only a cache);
 * `checkDependencySet` is what the worker runs in the enclave: it accepts a set only if it holds
 * exactly the locked dependencies, each with the right checksum, and builds the offline
 * environment of the build from the verified bytes alone. Node only.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isPinned } from '../lockfile/digests.js';
import { listSome, provenanceError } from '../errors.js';
import type { Language } from '../lockfile/parse.js';
import type { NpmPlatform } from '../lockfile/platform.js';
import { readLockedDependencies } from '../lockfile/read.js';
import type { Ecosystem, LockedDependency } from '../types.js';
import { fetchCargo, prepareCargo } from './cargo.js';
import { freshDirectory, listTree } from './files.js';
import { fetchGo, prepareGo } from './go.js';
import { expectedArtifacts } from './layout.js';
import type { ExpectedArtifact, PreparedEcosystem } from './layout.js';
import { NPM_REGISTRY, fetchNpm, prepareNpm } from './npm.js';

export { expectedArtifacts, goEscape } from './layout.js';
export type { ArtifactKind, ExpectedArtifact, PreparedEcosystem } from './layout.js';
export { NPM_REGISTRY, npmPackumentUrl, npmTarballUrl } from './npm.js';
export { vendorConfig } from './cargo.js';

const ECOSYSTEM: Record<Language, Ecosystem> = { node: 'npm', rust: 'cargo', go: 'go' };

function describeDep(d: LockedDependency): string {
  return `${d.name}@${d.version} (${d.kind}${d.source === undefined ? '' : `: ${d.source}`})`;
}

/**
 * Refuses dependencies without a lockfile checksum unless allowed (DEPENDENCY_UNPINNED, naming
 * each); returns the allowed ones.
 */
export function checkPinned(
  deps: readonly LockedDependency[],
  allowUnpinned: boolean,
): LockedDependency[] {
  const unpinned = deps.filter((d) => !isPinned(d));
  if (unpinned.length > 0 && !allowUnpinned) {
    throw provenanceError(
      'DEPENDENCY_UNPINNED',
      `dependencies without a lockfile checksum: ${listSome(unpinned.map(describeDep))}; tee-compile can only verify registry packages: vendor them into the repository or publish them, or set "allowUnpinnedDependencies": true in build.json (they are then recorded as unpinned and not provided to the build)`,
      unpinned[0]!.purl,
    );
  }
  return unpinned;
}

export interface FetchOptions {
  /** `dir` relative to the source root (default `.`); see `readLockedDependencies`. */
  workdir?: string;
  allowUnpinned?: boolean;
  /** npm registry for packages without a `resolved` URL (default https://registry.npmjs.org/). */
  npmRegistry?: string;
  /** config.toml for the temporary CARGO_HOME of `cargo fetch` (default: a copy of the user's). */
  cargoConfig?: string;
  /** Environment of the fetching tools (default process.env): proxies, GOPROXY, … */
  env?: NodeJS.ProcessEnv;
  /** Parallel downloads (npm). */
  concurrency?: number;
  /** The machine the set is for (npm's optional packages); default this one. */
  platform?: NpmPlatform;
}

export interface FetchResult {
  dependencies: LockedDependency[];
  /** Files now in the set. */
  files: number;
  /** Bytes downloaded by this call. */
  bytes: number;
}

/**
 * Fetches the locked dependencies of the project in `dir` into `outDir` (created if needed;
 * files already present are kept), each checked against its lockfile checksum on arrival. This
 * runs on the host and proves nothing: the enclave checks the set again.
 */
export async function fetchDependencySet(
  dir: string,
  language: Language,
  outDir: string,
  opts: FetchOptions = {},
): Promise<FetchResult> {
  const deps = await readLockedDependencies(dir, language, {
    workdir: opts.workdir ?? '.',
    ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
  });
  checkPinned(deps, opts.allowUnpinned === true);
  const pinned = deps.filter(isPinned);
  const artifacts = [...expectedArtifacts(pinned).values()];
  const env = opts.env ?? process.env;
  let bytes = 0;
  try {
    switch (language) {
      case 'node':
        bytes = await fetchNpm(artifacts, outDir, {
          registry: opts.npmRegistry ?? NPM_REGISTRY,
          concurrency: opts.concurrency ?? 8,
        });
        break;
      case 'rust': {
        const o: { env: NodeJS.ProcessEnv; cargoConfig?: string } = { env };
        if (opts.cargoConfig !== undefined) o.cargoConfig = opts.cargoConfig;
        bytes = await fetchCargo(artifacts, dir, outDir, o);
        break;
      }
      case 'go':
        bytes = await fetchGo(pinned, outDir, { env });
        break;
    }
  } finally {
    await rm(join(outDir, '.partial'), { recursive: true, force: true });
  }
  return { dependencies: deps, files: artifacts.length, bytes };
}

export interface CheckOptions {
  /** The build's language; by default that of the dependencies (nothing is prepared without any). */
  language?: Language;
  /** Where the verified environment is built; created, must be empty. */
  outDir: string;
  allowUnpinned?: boolean;
  /** npm registry URL npm will be configured with (default https://registry.npmjs.org/). */
  npmRegistry?: string;
  /**
   * The set is single-use (the worker's): its files are moved into `outDir` after their check
   * instead of copied, so each is read once and written never again. Default false.
   */
  consume?: boolean;
}

/** What the build needs to run offline with the verified dependencies. */
export interface PreparedDependencies extends PreparedEcosystem {
  language: Language | null;
  /** Files verified. */
  verified: number;
  /** Unpinned dependencies that were allowed: recorded, not provided. */
  unpinned: LockedDependency[];
}

/** Directories of the set that lead to an expected file. */
function expectedDirs(paths: Iterable<string>): Set<string> {
  const dirs = new Set<string>();
  for (const p of paths) {
    for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) dirs.add(p.slice(0, i));
  }
  return dirs;
}

/**
 * Checks the dependency set in `depsetDir` against `dependencies` (the lockfile as read from the
 * verified source) and prepares the offline build environment in `opts.outDir` from verified
 * bytes only. Refuses: unpinned dependencies unless allowed (DEPENDENCY_UNPINNED), a locked
 * dependency absent from the set (DEPENDENCY_MISSING), a file or directory nothing in the lockfile
 * accounts for, links and special files included (DEPENDENCY_UNEXPECTED_FILE), bytes that differ
 * from the lockfile checksum (DEPENDENCY_DIGEST_MISMATCH), and archives that match but cannot be
 * unpacked safely (DEPENDENCY_MALFORMED). Nothing from the set is used except bytes whose hash
 * was checked, as they were read.
 */
export async function checkDependencySet(
  depsetDir: string,
  dependencies: readonly LockedDependency[],
  opts: CheckOptions,
): Promise<PreparedDependencies> {
  const first = dependencies[0]?.ecosystem;
  const language =
    opts.language ??
    (first === undefined
      ? null
      : (Object.keys(ECOSYSTEM) as Language[]).find((l) => ECOSYSTEM[l] === first)!);
  const foreign = dependencies.filter(
    (d) => language === null || d.ecosystem !== ECOSYSTEM[language],
  );
  if (foreign.length > 0) {
    throw new TypeError(
      `checkDependencySet: a ${String(language)} build given ${foreign[0]!.ecosystem} dependencies`,
    );
  }
  const unpinned = checkPinned(dependencies, opts.allowUnpinned === true);
  const expected = expectedArtifacts(dependencies);
  const listing = await listTree(depsetDir);
  const dirs = expectedDirs(expected.keys());
  const unexpected = [
    ...listing.others.map((p) => `${p} (not a regular file)`),
    ...listing.files.filter((p) => !expected.has(p)),
    ...listing.dirs.filter((p) => !dirs.has(p)).map((p) => `${p}/`),
  ];
  if (unexpected.length > 0) {
    throw provenanceError(
      'DEPENDENCY_UNEXPECTED_FILE',
      `the dependency set holds files no locked dependency accounts for: ${listSome(unexpected.sort())}`,
      unexpected[0],
    );
  }
  const present = new Set(listing.files);
  const missing = [...expected.values()].filter((a) => !present.has(a.path));
  if (missing.length > 0) {
    const names = missing.flatMap((a) => a.deps.map((d) => `${d.name}@${d.version} (${a.path})`));
    throw provenanceError(
      'DEPENDENCY_MISSING',
      `locked dependencies missing from the dependency set: ${listSome(names)}`,
      missing[0]!.path,
    );
  }
  await freshDirectory(opts.outDir);
  if (language === null) return { language, env: {}, dirs: [], verified: 0, unpinned };
  const artifacts: ExpectedArtifact[] = [...expected.values()].sort((a, b) =>
    a.path < b.path ? -1 : 1,
  );
  let prepared: PreparedEcosystem;
  try {
    switch (language) {
      case 'node':
        prepared = await prepareNpm(
          depsetDir,
          artifacts,
          opts.outDir,
          opts.npmRegistry ?? NPM_REGISTRY,
          opts.consume === true,
        );
        break;
      case 'rust':
        prepared = await prepareCargo(
          depsetDir,
          artifacts,
          opts.outDir,
          dependencies,
          opts.consume === true,
        );
        break;
      case 'go':
        prepared = await prepareGo(depsetDir, artifacts, opts.outDir, opts.consume === true);
        break;
    }
  } catch (err) {
    // Nothing half-built is left for a build to pick up.
    await rm(opts.outDir, { recursive: true, force: true });
    throw err;
  }
  return { language, env: prepared.env, dirs: prepared.dirs, verified: artifacts.length, unpinned };
}
