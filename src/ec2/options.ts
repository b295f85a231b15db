/**
 * The options of `ec2 launch|stop|sweep`, validated once. The CLI's flags and the action's inputs
 * have the same names (`--instance-types` / `instance-types:`), so both read them through one
 * getter and get the same typed object, with errors naming the option and the expected form.
 */
import { Ec2Error } from './errors.js';

/** Reads one option by name; `''` when not given. */
export type OptionGetter = (name: string) => string;

/** Shortest and longest hard time limit of an instance, in minutes. */
export const MIN_MAX_MINUTES = 10;
export const MAX_MAX_MINUTES = 24 * 60;
/** Default hard time limit: a release build and its queueing, with margin. */
export const DEFAULT_MAX_MINUTES = 90;
/**
 * Default instance types, most preferred first: 8 vCPUs and 32 GiB (6 vCPUs and most of the
 * memory go to the enclave), Intel then AMD then the previous Intel generation.
 */
export const DEFAULT_INSTANCE_TYPES = ['m6i.2xlarge', 'm6a.2xlarge', 'm5.2xlarge'] as const;
/** GitHub Actions runner installed on the instance (its release's published SHA-256). */
export const DEFAULT_RUNNER_VERSION = '2.321.0';
export const DEFAULT_RUNNER_SHA256 =
  'ba46ba7ce3a4d7236b16fbe44419fb453bc08f866b24f04d549ec89f1722a29e';
/** The default runner group of a repository or organisation ("Default"). */
export const DEFAULT_RUNNER_GROUP_ID = 1;
/** Most instance types and subnets tried. */
export const MAX_LIST_ITEMS = 16;

/** Where the runner is registered: a repository, or an organisation (runner groups live there). */
export type RunnerScope =
  { kind: 'repo'; owner: string; repo: string } | { kind: 'org'; org: string };

/** GitHub access for the runner's registration and removal. */
export interface GitHubOptions {
  token: string;
  apiUrl: string;
  /** The repository the build runs for (tag `tee-compile:repository`). */
  repository: string;
  scope: RunnerScope;
}

/** Options of `launch`. */
export interface LaunchOptions {
  region: string | null;
  /** AMI id, or null with a launch template. */
  imageId: string | null;
  launchTemplate: { id: string | null; name: string | null; version: string } | null;
  instanceTypes: string[];
  subnetIds: string[];
  securityGroupIds: string[];
  /** Instance profile name or ARN, or null when the launch template names one. */
  instanceProfile: string | null;
  spot: boolean;
  maxMinutes: number;
  /** The run this builder serves (tag `tee-compile:run`). */
  run: string;
  /** Image names (images.json) to prepare on the host; empty: every published image. */
  images: string[];
  runnerVersion: string;
  runnerSha256: string;
  runnerGroupId: number;
  /** Version of the tee-compile package installed on the host. */
  teeCompileVersion: string;
  github: GitHubOptions;
}

/** Options of `stop`. */
export interface StopOptions {
  region: string | null;
  instanceId: string;
  /** The runner label, used when the instance can no longer be described. */
  label: string | null;
  /** GitHub access to remove the runner, or null to leave it (GitHub removes offline JIT runners). */
  github: GitHubOptions | null;
}

/** Options of `sweep`. */
export interface SweepOptions {
  region: string | null;
  github: GitHubOptions | null;
}

function bad(name: string, message: string): Ec2Error {
  return new Ec2Error('OPTION_INVALID', `option "${name}": ${message}`, { path: name });
}

function list(get: OptionGetter, name: string, re: RegExp, what: string): string[] {
  const v = get(name).trim();
  if (v === '') return [];
  const items = v
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length > MAX_LIST_ITEMS) throw bad(name, `at most ${MAX_LIST_ITEMS} items`);
  for (const s of items)
    if (!re.test(s)) throw bad(name, `expected ${what}, got ${JSON.stringify(s)}`);
  return [...new Set(items)];
}

function one(get: OptionGetter, name: string, re: RegExp, what: string): string | null {
  const v = get(name).trim();
  if (v === '') return null;
  if (!re.test(v)) throw bad(name, `expected ${what}, got ${JSON.stringify(v)}`);
  return v;
}

function bool(get: OptionGetter, name: string): boolean {
  const v = get(name).trim();
  if (v === '' || /^false$/i.test(v)) return false;
  if (/^true$/i.test(v)) return true;
  throw bad(name, `expected true or false, got ${JSON.stringify(v)}`);
}

function int(get: OptionGetter, name: string, min: number, max: number, def: number): number {
  const v = get(name).trim();
  if (v === '') return def;
  const n = /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && n <= max))
    throw bad(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_PART = /^[A-Za-z0-9._-]{1,100}$/;

function region(get: OptionGetter): string | null {
  return one(get, 'region', REGION, 'an AWS region such as us-east-1');
}

/** The GitHub part, or null when no token is given and `required` is false. */
export function parseGitHub(get: OptionGetter, required: boolean): GitHubOptions | null {
  const token = get('github-token').trim();
  if (token === '') {
    if (required) throw bad('github-token', 'required to register the runner');
    return null;
  }
  const repository = get('repository').trim();
  const [owner, repo, extra] = repository.split('/');
  if (
    owner === undefined ||
    repo === undefined ||
    extra !== undefined ||
    !NAME.test(owner) ||
    !REPO_PART.test(repo)
  )
    throw bad('repository', `expected owner/repo, got ${JSON.stringify(repository)}`);
  const org = one(get, 'runner-org', NAME, 'an organisation name');
  const apiRaw = get('github-api-url').trim() || 'https://api.github.com';
  let api: URL;
  try {
    api = new URL(apiRaw);
  } catch {
    throw bad('github-api-url', `expected an http(s) URL, got ${JSON.stringify(apiRaw)}`);
  }
  if (api.protocol !== 'https:' && api.protocol !== 'http:')
    throw bad('github-api-url', `expected an http(s) URL, got ${JSON.stringify(apiRaw)}`);
  return {
    token,
    apiUrl: api.href.replace(/\/+$/, ''),
    repository: `${owner}/${repo}`,
    scope: org === null ? { kind: 'repo', owner, repo } : { kind: 'org', org },
  };
}

/** Validates the options of `launch`. */
export function parseLaunchOptions(
  get: OptionGetter,
  defaults: { version: string },
): LaunchOptions {
  const imageId = one(get, 'image-id', /^ami-[0-9a-f]{8,17}$/, 'an AMI id (ami-…)');
  const lt = one(
    get,
    'launch-template',
    /^(?:lt-[0-9a-f]{8,17}|[A-Za-z0-9()./_-]{3,128})$/,
    'a launch template id (lt-…) or name',
  );
  if ((imageId === null) === (lt === null))
    throw bad('image-id', 'give exactly one of image-id and launch-template');
  const ltVersion =
    one(
      get,
      'launch-template-version',
      /^(?:\d{1,9}|\$Latest|\$Default)$/,
      'a version number, $Latest or $Default',
    ) ?? '$Default';
  const instanceTypes = list(
    get,
    'instance-types',
    /^[a-z][a-z0-9-]*\.[a-z0-9]+$/,
    'instance types such as m6i.2xlarge',
  );
  const subnetIds = list(get, 'subnet-ids', /^subnet-[0-9a-f]{8,17}$/, 'subnet ids (subnet-…)');
  if (subnetIds.length === 0 && lt === null)
    throw bad(
      'subnet-ids',
      'required (one or more subnets, in order of preference, in several availability zones)',
    );
  const instanceProfile = one(
    get,
    'instance-profile',
    /^(?:arn:aws[a-z-]*:iam::\d{12}:instance-profile\/[\w+=,.@/-]{1,128}|[\w+=,.@-]{1,128})$/,
    'an instance profile name or ARN',
  );
  if (instanceProfile === null && lt === null)
    throw bad(
      'instance-profile',
      'required: its role is the builder identity (PCR3) the attestation carries',
    );
  const ghOpts = parseGitHub(get, true)!;
  const run = get('run').trim();
  if (!/^[A-Za-z0-9._:/-]{1,128}$/.test(run))
    throw bad(
      'run',
      `expected the run this builder serves (e.g. owner/repo/123/1), got ${JSON.stringify(run)}`,
    );
  return {
    region: region(get),
    imageId,
    launchTemplate:
      lt === null
        ? null
        : {
            id: lt.startsWith('lt-') ? lt : null,
            name: lt.startsWith('lt-') ? null : lt,
            version: ltVersion,
          },
    instanceTypes: instanceTypes.length > 0 ? instanceTypes : [...DEFAULT_INSTANCE_TYPES],
    subnetIds,
    securityGroupIds: list(
      get,
      'security-group-ids',
      /^sg-[0-9a-f]{8,17}$/,
      'security group ids (sg-…)',
    ),
    instanceProfile,
    spot: bool(get, 'spot'),
    maxMinutes: int(get, 'max-minutes', MIN_MAX_MINUTES, MAX_MAX_MINUTES, DEFAULT_MAX_MINUTES),
    run,
    images: list(get, 'images', /^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'image names from images.json'),
    runnerVersion:
      one(get, 'runner-version', /^\d+\.\d+\.\d+$/, 'a version such as 2.321.0') ??
      DEFAULT_RUNNER_VERSION,
    runnerSha256:
      one(get, 'runner-sha256', /^[0-9a-f]{64}$/, '64 lower-case hex digits') ??
      DEFAULT_RUNNER_SHA256,
    runnerGroupId: int(get, 'runner-group-id', 1, 2 ** 31 - 1, DEFAULT_RUNNER_GROUP_ID),
    teeCompileVersion:
      one(get, 'tee-compile-version', /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, 'a package version') ??
      defaults.version,
    github: ghOpts,
  };
}

/** Validates the options of `stop`. */
export function parseStopOptions(get: OptionGetter): StopOptions {
  const instanceId = one(get, 'instance-id', /^i-[0-9a-f]{8,17}$/, 'an instance id (i-…)');
  if (instanceId === null) throw bad('instance-id', 'required');
  return {
    region: region(get),
    instanceId,
    label: one(
      get,
      'label',
      /^tee-compile-[0-9a-f]{16}$/,
      'a label launch printed (tee-compile-…)',
    ),
    github: parseGitHub(get, false),
  };
}

/** Validates the options of `sweep`. */
export function parseSweepOptions(get: OptionGetter): SweepOptions {
  return { region: region(get), github: parseGitHub(get, false) };
}
