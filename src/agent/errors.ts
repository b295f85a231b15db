import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Codes of the agent's own errors. Add, never rename. Each one maps to an HTTP status and to the
 * `error.type` clients see (see `ERROR_TYPES` in ./http-errors.ts).
 */
export const AGENT_ERROR_CODES = [
  'AGENT_BAD_REQUEST', // a body field is missing, malformed or not allowed (400, names the field)
  'AGENT_UNAUTHORIZED', // missing or wrong bearer token (401)
  'AGENT_NOT_FOUND', // no such route or job (404)
  'AGENT_METHOD_NOT_ALLOWED', // the route exists, not with this method (405)
  'AGENT_NOT_FINISHED', // the job has no result yet (409)
  'AGENT_ALREADY_FINISHED', // the job already ended and cannot be cancelled (409)
  'AGENT_NO_RESULT', // the job ended without a result (failed or cancelled) (409)
  'AGENT_SINGLE_BUILD_USED', // single-build mode and the one build was already accepted (409)
  'AGENT_PAYLOAD_TOO_LARGE', // a body or one of its parts exceeds its limit (413)
  'AGENT_UNSUPPORTED_MEDIA_TYPE', // the body is neither JSON nor multipart (415)
  'AGENT_STORAGE_FULL', // the data directory is over its budget or the disk nearly full (507)
  'AGENT_UNAVAILABLE', // shutting down, or the queue is full (503)
  'AGENT_CONFIG_INVALID', // the agent's own configuration (file or flags) is invalid
  'AGENT_DATA_DIR', // the data directory is unusable (locked by another agent, unreadable)
  'AGENT_SOURCE_INVALID', // the submitted source cannot be used (bad archive, unsafe .git)
  'AGENT_CLONE_FAILED', // git could not clone or check out the requested repository/ref
  'AGENT_RESOURCES_EXCEEDED', // a build asks for more CPUs/memory than the host can ever give
  'AGENT_CANCELLED', // the job was cancelled (DELETE, or the agent stopped)
  'AGENT_INTERRUPTED', // the agent restarted while the job was running
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

/** An error raised by the agent; `path` names the request field when there is one. */
export class AgentError extends TeeCompileError<AgentErrorCode> {}

/** True when `e` is an `AgentError`. */
export const isAgentError = errorGuard(AgentError);
