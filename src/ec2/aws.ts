/**
 * The AWS clients (EC2 and IAM) and how their failures become our errors.
 *
 * Credentials come only from the SDK's standard chain (environment, shared files, web identity
 * as GitHub OIDC gives it, container and instance roles). The region is the option, else
 * AWS_REGION / AWS_DEFAULT_REGION; the endpoint, where set, is AWS_ENDPOINT_URL_EC2 (IAM:
 * AWS_ENDPOINT_URL_IAM), else AWS_ENDPOINT_URL — the SDK's own "service-specific endpoint"
 * settings, read here so that the environment is a parameter. Throttling (RequestLimitExceeded)
 * is retried with exponential backoff by the SDK's retry strategy; what is left is THROTTLED.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { RetryErrorInfo, StandardRetryToken } from '@smithy/types';
import { Ec2Error } from './errors.js';

/** Attempts of one AWS call (the first and the retries). */
export const MAX_AWS_ATTEMPTS = 6;
/** First retry delay; each next one doubles, up to MAX_BACKOFF_MS. */
export const BACKOFF_BASE_MS = 500;
export const MAX_BACKOFF_MS = 20_000;

/** The clients one command uses. */
export interface AwsClients {
  region: string;
  ec2: EC2Client;
  iam: IAMClient;
}

/** Settings of the clients (the environment is a parameter; tests shorten the backoff). */
export interface AwsSettings {
  env: NodeJS.ProcessEnv;
  /** The region option, or null to read the environment. */
  region: string | null;
  backoffBaseMs?: number;
}

/** Exponential backoff with full jitter (the SDK's standard shape), bounded by MAX_BACKOFF_MS. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  random: () => number = Math.random,
): number {
  return Math.round(random() * Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1)));
}

/**
 * Errors never retried in place: EC2 answers "no capacity" as a server error (HTTP 500), which the
 * SDK would retry against the same zone; launch tries the next subnet or type instead.
 */
export const NOT_RETRIED = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientHostCapacity',
]);

/** The SDK's configured strategy, minus retries of {@link NOT_RETRIED}. */
class Ec2RetryStrategy extends ConfiguredRetryStrategy {
  override async refreshRetryTokenForRetry(
    token: StandardRetryToken,
    info: RetryErrorInfo,
  ): Promise<StandardRetryToken> {
    if (info.error !== undefined && NOT_RETRIED.has(info.error.name)) throw info.error;
    return super.refreshRetryTokenForRetry(token, info);
  }
}

/** Creates the clients. Throws `REGION_MISSING` when no region is set. */
export function awsClients(s: AwsSettings): AwsClients {
  const region = s.region ?? (s.env.AWS_REGION || s.env.AWS_DEFAULT_REGION || null);
  if (region === null)
    throw new Ec2Error('REGION_MISSING', 'no AWS region: set AWS_REGION (or the region option)', {
      path: 'region',
    });
  const base = s.backoffBaseMs ?? BACKOFF_BASE_MS;
  const retryStrategy = new Ec2RetryStrategy(MAX_AWS_ATTEMPTS, (a) => backoffDelay(a, base));
  const ec2Endpoint = s.env.AWS_ENDPOINT_URL_EC2 || s.env.AWS_ENDPOINT_URL || undefined;
  const iamEndpoint = s.env.AWS_ENDPOINT_URL_IAM || s.env.AWS_ENDPOINT_URL || undefined;
  return {
    region,
    ec2: new EC2Client({
      region,
      retryStrategy,
      ...(ec2Endpoint ? { endpoint: ec2Endpoint } : {}),
    }),
    iam: new IAMClient({
      region,
      retryStrategy,
      ...(iamEndpoint ? { endpoint: iamEndpoint } : {}),
    }),
  };
}

/** The AWS error code of a failed call (the SDK puts it in `name`), or null. */
export function awsCode(e: unknown): string | null {
  if (typeof e !== 'object' || e === null) return null;
  const meta = (e as { $metadata?: unknown }).$metadata;
  const name = (e as { name?: unknown }).name;
  return meta !== undefined && typeof name === 'string' ? name : null;
}

const DENIED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
]);
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);

/**
 * Turns a failed call of `permission` (e.g. `ec2:RunInstances`) into our error: missing
 * credentials, a refusal naming the permission, throttling that outlasted the retries, or the
 * AWS code and message. Anything that is not an AWS or credentials error is rethrown (a bug).
 */
export function awsFailure(e: unknown, permission: string, extra = ''): Ec2Error {
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'CredentialsProviderError')
    return new Ec2Error(
      'CREDENTIALS_MISSING',
      `no AWS credentials for ${permission}: the standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN as aws-actions/configure-aws-credentials sets them, or an instance role) found none`,
      { cause: e },
    );
  const code = awsCode(e);
  if (code === null) throw e;
  const message = (e as Error).message;
  if (DENIED.has(code))
    return new Ec2Error(
      'PERMISSION_DENIED',
      `AWS refused ${permission} (${code}): the role needs "${permission}"${extra} on resources tagged by tee-compile (see the IAM policy in docs/ec2.md)`,
      { path: permission, cause: e },
    );
  if (THROTTLING.has(code))
    return new Ec2Error(
      'THROTTLED',
      `${permission}: AWS still answered ${code} after ${MAX_AWS_ATTEMPTS} attempts with backoff`,
      { path: permission, cause: e },
    );
  return new Ec2Error('AWS_REQUEST_FAILED', `${permission} failed: ${code}: ${message}`, {
    path: permission,
    cause: e,
  });
}
