import { errorGuard, TeeCompileError } from '../errors.js';

/** Codes of the action's own errors. Add, never rename. */
export const ACTION_ERROR_CODES = [
  'INPUT_INVALID', // an action input (or the workflow context it defaults from) is not valid; `path` names it
  'CONFIG_INVALID', // build.json is missing or invalid
  'SOURCE_FAILED', // the committed source could not be read, cloned or packed
  'DEPENDENCIES_FAILED', // the locked dependencies could not be fetched
  'AGENT_UNREACHABLE', // no answer from the agent (connection refused, reset, DNS)
  'AGENT_REJECTED', // the agent answered a request with an error (its `error.type` is in the message)
  'AGENT_PROTOCOL', // the agent answered something that is not its API
  'BUILD_FAILED', // the build ran and failed, or the agent cancelled it
  'TIMEOUT', // the build did not finish within `timeout-minutes`
  'CANCELLED', // the step was cancelled (SIGINT/SIGTERM)
  'BUNDLE_REFUSED', // the bundle did not verify: nothing is published
  'RELEASE_NOT_FOUND', // verify mode: no release for the tag
  'RELEASE_CONFLICT', // an asset with the same name and other bytes is on a published release
  'GITHUB_FAILED', // a GitHub API call failed
  'ARTIFACT_FAILED', // the workflow artifact service failed
  'NO_BUNDLES', // verify mode: no bundle matched
  'ASSET_MISMATCH', // verify mode: a release asset differs from the attested artifact
  'VSA_SIGNING_FAILED', // verify mode: the VSA key is not an EC P-256 key, or KMS refused Sign
] as const;

export type ActionErrorCode = (typeof ACTION_ERROR_CODES)[number];

/** An error raised by the action; `path` names the input or field when there is one. */
export class ActionError extends TeeCompileError<ActionErrorCode> {}

/** True when `e` is an `ActionError`. */
export const isActionError = errorGuard(ActionError);
