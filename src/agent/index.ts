/**
 * The build service on an enclave host: HTTP API, durable job store, FIFO queue within the
 * host's enclave budget, Server-Sent Events, metrics.
 */
export { Agent, CANCEL_WAIT_MS } from './agent.js';
export type { AgentOptions, Admission } from './agent.js';
export { readTokenFile, checkBearer, MIN_TOKEN_LENGTH } from './auth.js';
export type { TokenCheck } from './auth.js';
export {
  AgentConfigFileSchema,
  readConfigFile,
  readNitroAllocator,
  resolveSettings,
  parseListen,
} from './config.js';
export type { AgentConfigFile, AgentFlags, AgentSettings, Capacity, LogLevel } from './config.js';
export { AGENT_ERROR_CODES, AgentError, isAgentError } from './errors.js';
export type { AgentErrorCode } from './errors.js';
export { AGENT_EVENT_TYPES } from './events.js';
export type { AgentEvent, AgentEventType } from './events.js';
export type {
  BuildExecutor,
  BuildJob,
  BuildOutcome,
  BuildProgress,
  BuildContext,
} from './executor.js';
export type { JobRecord, JobState, JobView, JobSubject } from './job.js';
export { createLogger, silentLogger } from './log.js';
export type { Logger, LogFields } from './log.js';
export { ERROR_STATUS, createAgentServer } from './server.js';
export { startAgent } from './service.js';
export type { RunningAgent, StartOptions } from './service.js';
export { agentCacheDir } from './cache.js';
export { PipelineExecutor, signatureLine } from './pipeline-executor.js';
export { openAgentBuilderKey } from './builder-key.js';
export { backendSizing } from './resources.js';
