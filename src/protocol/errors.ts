import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Refusals of the client <-> worker protocol itself (transport, framing, limits, time). Both
 * sides raise them; a worker sends them to the client in an `error` message when it still can.
 * Codes are API: add, never rename. Each one is documented in docs/build.md.
 */
export const PROTOCOL_ERROR_CODES = [
  'PROTOCOL_VERSION', // the two sides share no protocol version
  'PROTOCOL_MALFORMED', // a message is not valid JSON, has the wrong shape, or comes out of turn
  'PROTOCOL_LIMIT', // an input, a message or a frame is larger than the receiver accepts
  'PROTOCOL_IDLE_TIMEOUT', // nothing was received for the idle timeout
  'PROTOCOL_TIMEOUT', // the whole exchange took longer than its total timeout
  'PROTOCOL_CONNECTION_LOST', // the connection closed before the exchange ended
  'PROTOCOL_BUSY', // the worker is single-use and already serves (or served) a build
  'PROTOCOL_CANCELLED', // the local side gave up (e.g. the user interrupted the build)
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

/**
 * Refusals of a build by the worker, sent to the client in an `error` message. Codes are API:
 * add, never rename. Each one is documented in docs/build.md.
 */
export const WORKER_ERROR_CODES = [
  'CONFIG_INVALID', // build.json is malformed (`path` names the field)
  'IMAGE_MISMATCH', // build.json asks for another language or image than this worker's
  'SOURCE_ARCHIVE_INVALID', // the source archive is unsafe or malformed (path escape, link out, limits)
  'SOURCE_TREE_MISMATCH', // the tree id recomputed from the files differs from the claimed tree
  'SOURCE_COMMIT_MISMATCH', // the commit object's id or its tree differs from the claim
  'SOURCE_TAG_MISMATCH', // the tag object is malformed, or does not name the built commit under the claimed name
  'OIDC_TOKEN_INVALID', // the workflow's OIDC token is malformed, or its claims do not name this build (sha, aud, iss)
  'WORKDIR_INVALID', // the work directory is not a directory inside the source
  'DEPENDENCY_INVALID', // the lockfile cannot be read, or the dependency set is malformed
  'DEPENDENCY_MISMATCH', // a dependency's bytes differ from its lockfile checksum, or it is missing
  'BUILD_FAILED', // the build command exited with a non-zero status
  'BUILD_TIMEOUT', // the build command ran longer than its time limit and was killed
  'BUILD_OUT_OF_MEMORY', // the build command was killed for exceeding its memory limit
  'OUTPUT_MISSING', // an `output.files` glob matched no file
  'OUTPUT_INVALID', // an output is not a regular file inside the workspace (symlink, device, …)
  'ATTESTATION_FAILED', // the NSM refused or failed to attest
  'UNSEAL_FAILED', // the host's CiphertextForRecipient does not open to the announced builder key
  'WORKER_INTERNAL', // an unexpected failure inside the worker (a bug)
] as const;

export type WorkerErrorCode = (typeof WORKER_ERROR_CODES)[number];

/** A refusal of the protocol (see `PROTOCOL_ERROR_CODES`). */
export class ProtocolError extends TeeCompileError<ProtocolErrorCode> {}

/**
 * A refusal of the build by the worker (see `WORKER_ERROR_CODES`). On the client it is rebuilt from
 * the worker's `error` message, with the exit status and the end of the log of a failed build.
 */
export class WorkerError extends TeeCompileError<WorkerErrorCode> {
  /** Exit status of the build command (`BUILD_FAILED`), when it ran. */
  exitCode?: number | null;
  /** Signal that ended the build command, when one did. */
  signal?: string | null;
  /** The last lines of the build log, when the build ran. */
  logTail?: string[];
}

/** True for a `ProtocolError`. */
export const isProtocolError = errorGuard(ProtocolError);

/** True for a `WorkerError`. */
export const isWorkerError = errorGuard(WorkerError);

/** True when `code` is one of the worker's codes (used to read untrusted `error` messages). */
export function isWorkerErrorCode(code: string): code is WorkerErrorCode {
  return (WORKER_ERROR_CODES as readonly string[]).includes(code);
}

/** True when `code` is one of the protocol's codes. */
export function isProtocolErrorCode(code: string): code is ProtocolErrorCode {
  return (PROTOCOL_ERROR_CODES as readonly string[]).includes(code);
}
