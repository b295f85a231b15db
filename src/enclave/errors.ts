import { TeeCompileError } from '../errors.js';

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

/** A refusal or failure of an enclave backend. */
export class EnclaveError extends TeeCompileError<EnclaveErrorCode> {}

/** True for an `EnclaveError`. */
export function isEnclaveError(e: unknown): e is EnclaveError {
  return e instanceof EnclaveError;
}
