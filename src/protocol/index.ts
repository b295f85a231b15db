/**
 * The versioned client <-> worker protocol over one WebSocket (see docs/build.md, "Protocol").
 * Transport-agnostic: the client runs over any connected byte stream, the worker serves any
 * accepted WebSocket.
 */
export {
  PROTOCOL_ERROR_CODES,
  WORKER_ERROR_CODES,
  ProtocolError,
  WorkerError,
  isProtocolError,
  isProtocolErrorCode,
  isWorkerError,
  isWorkerErrorCode,
} from './errors.js';
export type { ProtocolErrorCode, WorkerErrorCode } from './errors.js';
export {
  INPUT_NAMES,
  MAX_NONCE_BYTES,
  MAX_UNSEAL_BYTES,
  MIN_NONCE_BYTES,
  PHASES,
  PROTOCOL_NAME,
  SIGNING_VERSION,
  SUPPORTED_VERSIONS,
  chooseVersion,
  parseClientMessage,
  parseWorkerMessage,
} from './messages.js';
export type {
  BuildRequest,
  ClientMessage,
  ErrorMessage,
  InputName,
  Phase,
  ProtocolLimits,
  WorkerHello,
  WorkerMessage,
} from './messages.js';
export { Channel, RECEIVE_HIGH_WATER, RECEIVE_LOW_WATER, SEND_HIGH_WATER } from './channel.js';
export type { ChannelOptions, Incoming } from './channel.js';
export { CLIENT_FRAME_BYTES, DEFAULT_CLIENT_LIMITS, remoteError, submitBuild } from './client.js';
export type {
  BuildSubmission,
  ClientInput,
  ClientLimits,
  SessionEvent,
  SessionResult,
  SubmitOptions,
} from './client.js';
export {
  DEFAULT_WORKER_LIMITS,
  LOG_FLUSH_MS,
  MAX_LOG_BATCH_BYTES,
  MAX_LOG_LINE_CHARS,
  errorMessageOf,
  serveBuild,
} from './server.js';
export type {
  BuildHandler,
  BuildOutcome,
  BuildReporter,
  ReceivedBuild,
  ServeOptions,
  SessionOutcome,
} from './server.js';
export { acceptOne, listenOnce } from './listen.js';
export type { AcceptOptions } from './listen.js';
