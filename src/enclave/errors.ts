import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Why a backend could not start, reach or keep an enclave. Codes are API: add, never rename.
 * Each one is documented in docs/build.md.
 */
export const ENCLAVE_ERROR_CODES = [
  'ISOLATION_UNAVAILABLE', // the OS refused a namespace and an unisolated build was not allowed
  'ENCLAVE_START_FAILED', // the enclave (or the local worker process) did not start
  'ENCLAVE_CONNECT_FAILED', // the worker's byte stream could not be opened
  'ENCLAVE_EXITED', // the enclave ended before or during the build (killed, out of memory, timeout)
  'ENCLAVE_SPEC_INVALID', // the spec asks for something the backend cannot give (resources, image)
] as const;

export type EnclaveErrorCode = (typeof ENCLAVE_ERROR_CODES)[number];

/**
 * What went wrong in the nitro backend (`NitroError.failure`), finer than the enclave error code. Codes are API: add, never rename.
 * - `IMAGE_NOT_MEASURED`: the catalog has no real PCRs for the image (and this is no simulation).
 * - `EIF_MISSING`: no `.eif` for the image in the images directory.
 * - `EIF_UNREADABLE`: the `.eif` cannot be read or parsed.
 * - `EIF_DIGEST_MISMATCH`: its SHA-256 is not the catalog's.
 * - `EIF_MEASUREMENT_MISMATCH`: its PCR0/1/2 are not the catalog's.
 * - `RESOURCES_UNAVAILABLE`: the enclave cannot fit in the host's enclave pool (or the host
 *   already runs the most enclaves a parent may).
 * - `CID_UNAVAILABLE`: no free CID could be had in the configured range.
 * - `NITRO_CLI_FAILED`: nitro-cli refused or failed (see `nitroCli`).
 * - `NITRO_CLI_OUTPUT`: nitro-cli's output is not what nitro-cli prints.
 * - `BOOT_TIMEOUT`: the worker did not answer within the boot timeout.
 * - `BOOT_FAILED`: the enclave ended while booting.
 * - `BRIDGE_FAILED`: the vsock bridge could not be started or ended at once.
 * - `CANCELLED`: the caller cancelled the start; an enclave already started was terminated.
 */
export const NITRO_FAILURES = [
  'IMAGE_NOT_MEASURED',
  'EIF_MISSING',
  'EIF_UNREADABLE',
  'EIF_DIGEST_MISMATCH',
  'EIF_MEASUREMENT_MISMATCH',
  'RESOURCES_UNAVAILABLE',
  'CID_UNAVAILABLE',
  'NITRO_CLI_FAILED',
  'NITRO_CLI_OUTPUT',
  'BOOT_TIMEOUT',
  'BOOT_FAILED',
  'BRIDGE_FAILED',
  'CANCELLED',
] as const;

export type NitroFailure = (typeof NITRO_FAILURES)[number];

/** Codes of the nitro backend's configuration errors (`NitroConfigError`). Add, never rename. */
export const NITRO_CONFIG_ERROR_CODES = [
  'NITRO_CONFIG_INVALID', // the nitro section of the agent's configuration is invalid; `path` names the field
] as const;

export type NitroConfigErrorCode = (typeof NITRO_CONFIG_ERROR_CODES)[number];

/** A refusal or failure of an enclave backend. */
export class EnclaveError extends TeeCompileError<EnclaveErrorCode> {}

/** True for an `EnclaveError`. */
export const isEnclaveError = errorGuard(EnclaveError);
