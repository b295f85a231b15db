/**
 * The verifier: trust policy, verification of one bundle, k-of-n verification over several, and
 * difference reports. Pure (browser-capable); reading files, the published image list and
 * diffoscope are in `./node.ts`.
 */
export * from './types.js';
export type { OriginFacts, OriginPolicy, RequireSigned, SignatureFacts } from './origin-types.js';
export { applyOriginFlags } from './origin-policy.js';
export { originPolicyFields } from './origin-schema.js';
export type { OriginFlags } from './origin-policy.js';
export { tokenRepositoryUrl } from './origin.js';
export { originLines } from './origin-report.js';
export { VERIFY_ERROR_CODES, VerifyError, isVerifyError, type VerifyErrorCode } from './errors.js';
export { MAX_POLICY_BYTES, buildTrustPolicy, parsePolicy } from './policy.js';
export type { PolicyParseOptions, TrustPolicyInput } from './policy.js';
export { MAX_NONCE_BYTES, parsePcrFlags } from './policy-flags.js';
export type { PolicyFlags } from './policy-flags.js';
export {
  IAM_ROLE_ARN_RE,
  MAX_MIN_BUILDERS,
  PCR_HEX_RE,
  policyFileSchema,
  policyJsonSchema,
} from './policy-schema.js';
export type { PolicyFile } from './policy-schema.js';
export { isFullCommit, sameCommit, sameRepository } from './source.js';
export { isBundleContents, verifyBundle } from './bundle.js';
export { builderLabel, verifyBundles } from './set.js';
export {
  MAX_DETAILED_FILES,
  MAX_SUMMARY_CHARS,
  fileDifferences,
  summarizeDifference,
} from './diff.js';
export {
  bundleReport,
  formatBundleReport,
  formatSetReport,
  setReport,
  singleBundleReport,
} from './report.js';
export type { BundleReport, SetReport } from './report.js';
export { VERIFY_PAGE_URL, releaseAssetUrl, verifyPageLink } from './web-link.js';
export type { VerifyPageTarget } from './web-link.js';
export { VSA_PREDICATE_TYPE, VSA_VERIFIER_ID, buildVsa, policyDigest, signVsa } from './vsa.js';
export type { VsaInput } from './vsa.js';
