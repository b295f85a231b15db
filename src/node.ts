/**
 * tee-compile's Node face: what needs files, processes or native crypto. Verification with
 * node:crypto (faster than Web Crypto), the trust policy and bundles from files, the published
 * image list, writing bundles, and running builds.
 */
export { nodeCryptoVerifier } from './attestation/node-crypto.js';
export {
  diffoscopeComparer,
  findDiffoscope,
  loadDefaultImages,
  loadTrustPolicy,
  openBundleFile,
} from './verify/node.js';
export type { LoadPolicyOptions } from './verify/node.js';
export { writeBundle } from './bundle/node.js';
export { loadImageCatalog } from './enclave/images-node.js';
export { createBackend } from './enclave/backends.js';
export type { BackendConfig, BackendName } from './enclave/backends.js';
export { runBuild } from './client/run-build.js';
export type { BuildEvent, BuildResult, RunBuildOptions } from './client/run-build.js';
export type { Enclave, EnclaveBackend, EnclaveSpec, IsolationReport } from './enclave/types.js';
