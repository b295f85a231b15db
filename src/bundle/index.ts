/**
 * The bundle: `provenance.json`, `attestation.cbor`, `build.log` and `artifacts/…` in one
 * `.tar.gz`, in one canonical form (docs/verify.md, "The bundle's wire format"). Pure
 * (browser-capable); writing files from disk is in `./node.ts`.
 */
export * from './types.js';
export { BUNDLE_ERROR_CODES, BundleError, isBundleError } from './errors.js';
export type { BundleErrorCode } from './errors.js';
export {
  DEFAULT_BUNDLE_LIMITS,
  MAX_ARTIFACT_BYTES,
  MAX_ATTESTATION_BYTES,
  MAX_BUNDLE_BYTES,
  MAX_BUNDLE_ENTRIES,
  MAX_BUNDLE_PATH_BYTES,
  MAX_BUNDLE_PATH_DEPTH,
  MAX_LOG_BYTES,
  MAX_PROVENANCE_BYTES,
  resolveBundleLimits,
} from './limits.js';
export type { BundleLimits } from './limits.js';
export { readArtifacts, readBundle, readBundleMembers } from './read.js';
export type { BundleMember } from './read.js';
export { ARTIFACT_PREFIX, FIXED_MEMBERS, artifactNameProblem } from './members.js';
export type { FixedMember } from './members.js';
export { BUNDLE_GZIP_HEADER } from './gzip.js';
export { MAX_BUNDLE_PAX_BYTES } from './tar.js';
export { bundleEntries, compareBytewise, encodeBundle } from './layout.js';
