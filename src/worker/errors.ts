import { TeeCompileError } from '../errors.js';

/**
 * The worker's own errors. Its refusals of a build travel to the client as `WORKER_ERROR_CODES`
 * (protocol/errors.ts); these are failures of the NSM helper process. Codes are API: add, never
 * rename.
 */
export const NSM_DEVICE_ERROR_CODES = [
  'NSM_HELPER_FAILED', // the helper could not be started, exited non-zero or was killed
  'NSM_HELPER_OUTPUT', // the helper wrote nothing, or more than an NSM response can be
  'NSM_HELPER_TIMEOUT', // the helper did not answer in time
] as const;
export type NsmDeviceErrorCode = (typeof NSM_DEVICE_ERROR_CODES)[number];

/** The helper that carries NSM requests to `/dev/nsm` failed. */
export class NsmDeviceError extends TeeCompileError<NsmDeviceErrorCode> {}
