/**
 * Ephemeral Nitro builders on EC2: `launch` one enclave-enabled instance that registers itself as
 * a one-job GitHub runner under a unique label and ends itself within a hard time limit; `stop` it;
 * `sweep` the ones a cancelled workflow left behind. The CLI (`tee-compile ec2`) and the action
 * (`mode: launch|stop|sweep`) are thin layers over this module.
 */
export { EC2_ERROR_CODES, Ec2Error, isEc2Error } from './errors.js';
export type { Ec2ErrorCode } from './errors.js';
export {
  DEFAULT_INSTANCE_TYPES,
  DEFAULT_MAX_MINUTES,
  DEFAULT_RUNNER_SHA256,
  DEFAULT_RUNNER_VERSION,
  parseLaunchOptions,
  parseStopOptions,
  parseSweepOptions,
} from './options.js';
export type {
  GitHubOptions,
  LaunchOptions,
  OptionGetter,
  RunnerScope,
  StopOptions,
  SweepOptions,
} from './options.js';
export { awsClients, MAX_AWS_ATTEMPTS } from './aws.js';
export type { AwsClients, AwsSettings } from './aws.js';
export { launch, runInstancesInput, TRY_NEXT_CODES } from './launch.js';
export type { LaunchAttempt, LaunchDeps, LaunchResult } from './launch.js';
export { stop, sweep } from './stop.js';
export type { StopResult, SweepResult } from './stop.js';
export { renderUserData, MAX_USER_DATA_BYTES, AGENT_LISTEN } from './user-data.js';
export type { UserDataInput } from './user-data.js';
export { allocatorFor, hostRequirements, PARENT_RESERVE_MIB, PARENT_VCPUS } from './sizing.js';
export type { Allocator, HostRequirements, PublishedImage } from './sizing.js';
export { runnerPermission } from './runners.js';
export {
  LABEL_PREFIX,
  TAG_EXPIRES_AT,
  TAG_LABEL,
  TAG_REPOSITORY,
  TAG_RUN,
  isOurLabel,
} from './tags.js';
export { runEc2 } from './run.js';
export type { Ec2Mode, Ec2Outcome, Ec2RunDeps } from './run.js';
