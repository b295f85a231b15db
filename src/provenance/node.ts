/**
 * Provenance, Node face: git checkouts (source identity, deterministic tree archive), tree ids
 * recomputed from files, lockfiles on disk, dependency sets (fetch on the host, check in the
 * enclave), toolchain detection and build.json files. Everything pure is in `./index.ts`.
 */
export { readGitCheckout, readGitSource, workTreeChanges, findSubmodules } from './source/git.js';
export type { GitOptions, ReadGitSourceOptions } from './source/git.js';
export { readTagObject } from './source/git-tag-read.js';
export {
  archiveGitTree,
  gitTreeArchive,
  gitTreeEntries,
  writeGitTreeArchive,
} from './source/git-archive.js';
export type { TreeArchive } from './source/git-archive.js';
export { DEFAULT_TREE_HASH_CONCURRENCY, computeTreeId, knownBlobAt } from './source/tree-hash.js';
export type { HashedDir, HashedEntry, KnownBlob, TreeHashOptions } from './source/tree-hash.js';
export { verifySourceTree } from './source/check.js';
export {
  MAX_LOCKFILE_BYTES,
  currentNpmPlatform,
  detectLanguage,
  enclaveNpmPlatform,
  readLockedDependencies,
  readLockfiles,
} from './lockfile/read.js';
export { detectToolchain, which } from './toolchain.js';
export { sha256File } from '../util/node.js';
export { readBuildConfig } from './config/read.js';
export {
  NPM_REGISTRY,
  checkDependencySet,
  checkPinned,
  expectedArtifacts,
  fetchDependencySet,
  goEscape,
  npmPackumentUrl,
  npmTarballUrl,
  vendorConfig,
} from './depset/index.js';
export type {
  ArtifactKind,
  CheckOptions,
  ExpectedArtifact,
  FetchOptions,
  FetchResult,
  PreparedDependencies,
} from './depset/index.js';
