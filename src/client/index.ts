/**
 * One build as a library call: prepare the inputs on the host (source archive, raw commit object,
 * dependency set), start an enclave, stream the inputs to its worker and receive the bundle.
 * Node-only.
 */
export {
  DEFAULT_CPUS,
  DEFAULT_MEMORY_MIB,
  DEFAULT_NONCE_BYTES,
  DEFAULT_TIMEOUT_S,
  ENCLAVE_TIME_MARGIN_MS,
  WORKER_EXIT_GRACE_MS,
  runBuild,
} from './run-build.js';
export type { BuildEvent, BuildResult, EnclaveExit, RunBuildOptions } from './run-build.js';
export {
  DEPSET_CACHE_DIR,
  DEPSET_FETCH_PREFIX,
  DEPSET_HOLD_PREFIX,
  MAX_CONFIG_BYTES,
  defaultCacheDir,
  isDepsetEntry,
  prepareInputs,
  readProjectConfig,
} from './inputs.js';
export type { PrepareOptions, PreparedInputs, ProjectConfig } from './inputs.js';
export { PhaseClock, formatTimings } from './phase-clock.js';
