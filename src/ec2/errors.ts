import { TeeCompileError } from '../errors.js';

/** Codes of the EC2 runner errors. Add, never rename. */
export const EC2_ERROR_CODES = [
  'OPTION_INVALID', // a launch/stop/sweep option is missing or malformed; `path` names it
  'REGION_MISSING', // no AWS region: set AWS_REGION (or the region option)
  'CREDENTIALS_MISSING', // the standard AWS credential chain found no credentials
  'PERMISSION_DENIED', // AWS refused a call (UnauthorizedOperation/AccessDenied); the message names the permission
  'NO_SUITABLE_INSTANCE_TYPE', // no listed type supports Nitro Enclaves with enough vCPUs and memory
  'NO_CAPACITY', // every instance type and subnet answered InsufficientInstanceCapacity (or similar)
  'THROTTLED', // AWS kept answering RequestLimitExceeded after the retries
  'AWS_REQUEST_FAILED', // any other AWS error (its code is in the message)
  'IMAGES_NOT_PUBLISHED', // an image to prepare has no published .eif in images.json
  'INSTANCE_NOT_OURS', // stop was asked to end an instance without tee-compile's tags
  'GITHUB_FAILED', // a GitHub API call for the runner failed (a 403 names the permission)
] as const;

export type Ec2ErrorCode = (typeof EC2_ERROR_CODES)[number];

/** An error of the EC2 runner life cycle; `path` names the option or field when there is one. */
export class Ec2Error extends TeeCompileError<Ec2ErrorCode> {}

/** True when `e` is an `Ec2Error`. */
export function isEc2Error(e: unknown): e is Ec2Error {
  return e instanceof Ec2Error;
}
