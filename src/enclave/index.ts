/**
 * Enclaves: the `EnclaveBackend` interface and its two backends, `local` (a sandboxed process with
 * the software NSM) and `nitro` (nitro-cli and a vsock bridge), made in one place
 * (`createBackend`). Node-only.
 */
export type {
  Enclave,
  EnclaveBackend,
  EnclaveExit,
  EnclaveSpec,
  EnclaveState,
  ImageRef,
  IsolationReport,
  OrphanKeep,
} from './types.js';
export {
  ENCLAVE_ERROR_CODES,
  EnclaveError,
  NITRO_CONFIG_ERROR_CODES,
  NITRO_FAILURES,
  isEnclaveError,
} from './errors.js';
export type { EnclaveErrorCode, NitroConfigErrorCode, NitroFailure } from './errors.js';
export { BACKEND_NAMES, createBackend } from './backends.js';
export type { BackendConfig, BackendName } from './backends.js';
export { DEFAULT_SIMULATED_ROLE, LocalBackend } from './local.js';
export type { LocalBackendOptions } from './local.js';
export { NitroBackend } from './nitro.js';
export type {
  InputSizes,
  NitroBackendConfig,
  NitroBackendConfigInput,
  NitroStartSpec,
} from './nitro.js';
export { NitroConfigError, NitroError, isNitroError } from './nitro-errors.js';
export { detectThreadsPerCore, enclaveCpuCount, enclaveMemory } from './nitro-sizing.js';
export { WORKER_BANNER } from './worker-bundle.js';
