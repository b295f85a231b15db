/**
 * tee-compile's Node face: what needs files, processes or native crypto. Verification with
 * node:crypto (faster than Web Crypto), the trust policy and bundles from files, the published
 * image list, writing bundles, and running builds.
 */
export { nodeCryptoVerifier } from './attestation/node.js';
export {
  diffoscopeComparer,
  findDiffoscope,
  loadDefaultImages,
  loadTrustPolicy,
  openBundleFile,
} from './verify/node.js';
export type { LoadPolicyOptions } from './verify/node.js';
export { writeBundle } from './bundle/node.js';
export { loadImageCatalog } from './catalog/node.js';
export { createBackend } from './enclave/index.js';
export type { BackendConfig, BackendName } from './enclave/index.js';
export { runBuild } from './client/index.js';
export type { BuildEvent, BuildResult, RunBuildOptions } from './client/index.js';
export type { Enclave, EnclaveBackend, EnclaveSpec, IsolationReport } from './enclave/index.js';
