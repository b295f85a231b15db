/**
 * The bundle: `provenance.json`, `attestation.cbor`, `build.log` and `artifacts/…` in one
 * `.tar.gz`. Pure (browser-capable); writing files from disk is in `./node.ts`.
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
export { readBundle } from './read.js';
export { bundleEntries, compareBytewise, encodeBundle } from './layout.js';
