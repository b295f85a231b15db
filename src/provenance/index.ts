/**
 * Provenance, pure face (runs in Node, the enclave worker and browsers): shapes, build.json,
 * lockfile parsing from strings, purl, git object ids, the input Merkle tree and the in-toto/SLSA
 * statement. Git, files, dependency sets and toolchains are in `./node.ts`.
 */
export type {
  BuildConfig,
  DependencyKind,
  Ecosystem,
  GitSource,
  LockedDependency,
  ObjectFormat,
  ProvenanceStatement,
  ResourceDescriptor,
  SourceIdentity,
  ToolchainComponent,
} from './types.js';
export {
  PROVENANCE_ERROR_CODES,
  REPOSITORY_URL_ERROR_CODES,
  ProvenanceError,
  isProvenanceError,
} from './errors.js';
export type { ProvenanceErrorCode, RepositoryUrlErrorCode } from './errors.js';
export {
  MAX_COMMAND_LENGTH,
  MAX_CPUS,
  MAX_ENV_ENTRIES,
  MAX_MEMORY_MIB,
  MAX_OUTPUT_GLOBS,
  MAX_TIMEOUT_SECONDS,
  MIN_MEMORY_MIB,
  buildConfigSchema,
  buildJsonSchema,
  buildJsonSchemaDocument,
  parseBuildConfig,
  parseBuildConfigText,
} from './config/build-config.js';
export {
  MAX_JSON_DEPTH,
  NotJsonError,
  canonicalJson,
  canonicalJsonBytes,
} from './statement/canonical-json.js';
export {
  MAX_COMMIT_OBJECT_BYTES,
  OID_HEX_LENGTH,
  compareTreeEntries,
  computeCommitId,
  encodeTree,
  hashObject,
  objectHeader,
  parseCommitObject,
  parseIdentity,
  sourceDateEpoch,
} from './source/git-object.js';
export type {
  CommitIdentity,
  CommitObject,
  GitObjectType,
  TreeEntry,
  TreeEntryMode,
} from './source/git-object.js';
export {
  MAX_OIDC_TOKEN_BYTES,
  ORIGIN_COMMIT,
  ORIGIN_OIDC_TOKEN,
  ORIGIN_TAG,
  originDescriptors,
  readOrigin,
} from './source/origin.js';
export type { OriginParams, RecordedOrigin } from './source/origin.js';
export { MAX_TAG_OBJECT_BYTES, computeTagId, parseTagObject } from './source/git-tag.js';
export type { TagObject } from './source/git-tag.js';
export {
  MAX_REPOSITORY_URL_LENGTH,
  normalizeRepositoryUrl,
  parseRepositoryUrl,
} from './source/repository-url.js';
export type { RepositoryUrlOptions, RepositoryUrlResult } from './source/repository-url.js';
export { purl } from './lockfile/purl.js';
export {
  SRI_ALGORITHMS,
  dependencyDescriptors,
  isPinned,
  parseCargoDigest,
  parseGoH1,
  parseSri,
  strongestSri,
} from './lockfile/digests.js';
export type { SriAlgorithm, SriHash } from './lockfile/digests.js';
export { parsePackageLock } from './lockfile/npm.js';
export { fitsPlatform } from './lockfile/platform.js';
export type { NpmPlatform } from './lockfile/platform.js';
export { CRATES_IO_SOURCE, parseCargoLock } from './lockfile/cargo.js';
export { parseGoLock, parseGoMod, parseGoSum } from './lockfile/go.js';
export type { GoModInfo, GoSumEntry } from './lockfile/go.js';
export { LOCKFILE_NAMES, parseLockedDependencies } from './lockfile/parse.js';
export type { Language, LockfileContents } from './lockfile/parse.js';
export {
  merkleLeafHash,
  merkleNodeHash,
  merkleProof,
  merkleRoot,
  verifyMerkleProof,
} from './statement/merkle.js';
export {
  BUILD_CONFIG_LEAF_NAME,
  buildConfigDescriptor,
  buildConfigDigest,
  dependencyDescriptorList,
  inputDescriptors,
  inputMerkleLeaves,
  inputMerkleRoot,
  sourceDescriptor,
} from './statement/inputs.js';
export {
  BUILD_TYPE,
  MAX_STATEMENT_BYTES,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  builderId,
  parseStatement,
  serializeStatement,
  statementInputMerkleRoot,
} from './statement/statement.js';
export { buildStatement, toolchainDescriptors } from './statement/build.js';
export type { StatementParams } from './statement/build.js';
