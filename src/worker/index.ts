/**
 * The worker: what runs inside the enclave (receive, re-check every input, build offline, attest,
 * return the bundle). Its program is `main.js`; this face is for embedding and tests.
 */
export {
  ACCEPT_TIMEOUT_MS,
  EXIT_DELIVERED,
  EXIT_REFUSED,
  EXIT_SESSION_FAILED,
  EXIT_START_FAILED,
  main,
  parseWorkerArgs,
} from './main.js';
export { DEFAULT_NSM_DEVICE, DEFAULT_SIMULATED_INSTANCE_ID, startWorker } from './start.js';
export type { ReadyWorker, WorkerOptions } from './start.js';
export { NSM_DEVICE_ERROR_CODES, NsmDeviceError, type NsmDeviceErrorCode } from './errors.js';
