/**
 * The action's inputs, validated once: every `with:` value (as `core.getInput` returns it) and the
 * run context become one typed object. A bad value is refused with a message that names the input
 * and the expected form, e.g. `input "upload": expected one of auto, release, artifact, none`.
 */
import { isAbsolute, join, normalize, posix } from 'node:path';
import picomatch from 'picomatch';
import { MAX_MIN_BUILDERS } from '../verify/index.js';
import type { RepoRef, RunContext } from './context.js';
import { parseRepo } from './context.js';
import { ActionError } from './errors.js';
import { hasControl } from './markdown.js';
import { deriveNonce } from './nonce.js';
import { parseNonceHex } from '../util/nonce.js';
import type { VsaKey } from '../kms/node.js';
import { vsaInputs } from './vsa-inputs.js';

/**
 * Nonce sizes the agent and the enclave protocol accept (bytes). Kept here rather than imported
 * so that the action's bundle does not carry the protocol's WebSocket code; a test holds them
 * equal to the protocol's.
 */
export { MAX_NONCE_BYTES, MIN_NONCE_BYTES } from '../util/nonce.js';
/** Longest wait for the agent, in minutes (a week: self-hosted jobs may run that long). */
export const MAX_TIMEOUT_MINUTES = 7 * 24 * 60;
/** Default wait for the agent, in minutes: the default build limit (1 h) plus queueing. */
export const DEFAULT_TIMEOUT_MINUTES = 180;
/** Longest check run name GitHub shows in full. */
export const MAX_CHECK_NAME = 100;
/** Longest tag name (git refs are limited by the file system: 255 bytes per component). */
export const MAX_TAG_LENGTH = 255;

/** Reads one input by name, `''` when not given (what `core.getInput` returns). */
export type InputGetter = (name: string) => string;

/** Where build mode puts its results. */
export type UploadTarget = 'release' | 'artifact' | 'none';

interface CommonInputs {
  context: RunContext;
  githubToken: string;
  checkName: string;
  /** Absolute path of the trust policy file, or null for the defaults. */
  policyFile: string | null;
  allowSimulated: boolean;
  /** k of n override, or null for the policy's. */
  minBuilders: number | null;
  /** The release tag, or null. */
  release: string | null;
  /** Publish the draft release at the end (build: after uploading; verify: once verified). */
  publish: boolean;
}

/** Inputs of build mode. */
export interface BuildInputs extends CommonInputs {
  mode: 'build';
  /** build.json, relative to the workspace (POSIX separators); its directory is the workdir. */
  config: string;
  agentUrl: string;
  agentToken: string | null;
  /** The attestation nonce (hex, lower case): the input or the run's derived nonce. */
  nonce: string;
  nonceDerived: boolean;
  upload: UploadTarget;
  timeoutMs: number;
}

/** Inputs of verify mode. */
export interface VerifyInputs extends CommonInputs {
  mode: 'verify';
  /** Whose release is verified. */
  repository: RepoRef;
  /** Glob over release asset names selecting the bundles. */
  assets: string;
  /** Glob over workflow artifact names of this run; when set, bundles come from there. */
  artifacts: string | null;
  /** Expected nonce (hex), or null. */
  nonce: string | null;
  /** `emit-vsa`: the key the signed verification summary is signed with, or null (none). */
  vsa: VsaKey | null;
}

/** The typed inputs of one run of the action. */
export type ActionInputs = BuildInputs | VerifyInputs;

/** Inputs and their defaults, as action.yml declares them. */
export const INPUT_DEFAULTS = {
  mode: 'build',
  config: 'build.json',
  'agent-url': 'http://127.0.0.1:8723',
  upload: 'auto',
  'check-name': 'attested build',
  assets: '*.bundle.tar.gz',
  'allow-simulated': 'false',
  'timeout-minutes': String(DEFAULT_TIMEOUT_MINUTES),
  publish: 'false',
  'emit-vsa': 'false',
} as const;

function bad(name: string, message: string): ActionError {
  return new ActionError('INPUT_INVALID', `input "${name}": ${message}`, { path: name });
}

function oneOf<T extends string>(get: InputGetter, name: string, values: readonly T[], def: T): T {
  const v = get(name);
  if (v === '') return def;
  if (!(values as readonly string[]).includes(v))
    throw bad(name, `expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** YAML 1.2 core schema booleans, as `core.getBooleanInput` accepts them. */
function bool(get: InputGetter, name: string, def: boolean): boolean {
  const v = get(name);
  if (v === '') return def;
  if (['true', 'True', 'TRUE'].includes(v)) return true;
  if (['false', 'False', 'FALSE'].includes(v)) return false;
  throw bad(name, `expected true or false, got ${JSON.stringify(v)}`);
}

function integer(get: InputGetter, name: string, min: number, max: number): number | null {
  const v = get(name);
  if (v === '') return null;
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw bad(name, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

function hexNonce(get: InputGetter): string | null {
  const v = get('nonce');
  if (v.replace(/^0x/i, '') === '') return null;
  const n = parseNonceHex(v);
  if (!n.ok) throw bad('nonce', n.message);
  return n.hex;
}

/**
 * A file path inside the workspace, relative (POSIX), anywhere below the root — what `config` is
 * (its directory is the build's workdir).
 */
function workspacePath(get: InputGetter, name: string, def: string): string {
  const v = get(name) || def;
  const p = posix.normalize(v.replace(/\\/g, '/'));
  if (
    isAbsolute(v) ||
    hasControl(v) ||
    p === '..' ||
    p.startsWith('../') ||
    p === '.' ||
    p.endsWith('/') ||
    p.split('/').includes('.git')
  )
    throw bad(name, `expected a file path inside the repository, got ${JSON.stringify(v)}`);
  return p.replace(/^\.\//, '');
}

/** A file path relative to the workspace or absolute — what `policy` is. */
function filePath(get: InputGetter, name: string, workspace: string): string | null {
  const v = get(name);
  if (v === '') return null;
  if (v.includes('\0')) throw bad(name, 'expected a file path');
  return isAbsolute(v) ? normalize(v) : join(workspace, v);
}

function tag(get: InputGetter, context: RunContext): string | null {
  const v = get('release');
  if (v === '') return context.tag;
  const t = v.startsWith('refs/tags/') ? v.slice('refs/tags/'.length) : v;
  // git check-ref-format, the parts that matter for a name in a URL and a file name.
  if (
    t.length === 0 ||
    t.length > MAX_TAG_LENGTH ||
    hasControl(t) ||
    /[ ~^:?*[\\]/.test(t) ||
    t.includes('..') ||
    t.includes('@{') ||
    t.startsWith('/') ||
    t.endsWith('/') ||
    t.endsWith('.') ||
    t.endsWith('.lock')
  )
    throw bad('release', `expected a tag name, got ${JSON.stringify(v)}`);
  return t;
}

function glob(get: InputGetter, name: string, def: string | null): string | null {
  const v = get(name) || def;
  if (v === null) return null;
  try {
    picomatch(v, { strictBrackets: true });
  } catch (e) {
    throw bad(name, `not a valid glob: ${(e as Error).message}`);
  }
  return v;
}

function agentUrl(get: InputGetter): string {
  const v = get('agent-url') || INPUT_DEFAULTS['agent-url'];
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw bad('agent-url', `expected an http(s) URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw bad('agent-url', `expected an http(s) URL, got ${JSON.stringify(v)}`);
  if (u.username !== '' || u.password !== '')
    throw bad('agent-url', 'credentials do not belong in the URL; use the agent-token input');
  if (u.search !== '' || u.hash !== '')
    throw bad('agent-url', 'expected the agent base URL, without query or fragment');
  return u.href.replace(/\/+$/, '');
}

/**
 * Validates the inputs (`get` reads one by name) against the run context, and builds the typed
 * inputs object. Throws `ActionError` `INPUT_INVALID` whose `path` is the input's name.
 */
export function parseInputs(get: InputGetter, context: RunContext): ActionInputs {
  const mode = oneOf(get, 'mode', ['build', 'verify'] as const, 'build');
  const checkName = get('check-name') || INPUT_DEFAULTS['check-name'];
  if (checkName.length > MAX_CHECK_NAME || hasControl(checkName))
    throw bad('check-name', `expected a name of at most ${MAX_CHECK_NAME} printable characters`);
  const common: CommonInputs = {
    context,
    githubToken: get('github-token'),
    checkName,
    policyFile: filePath(get, 'policy', context.workspace),
    allowSimulated: bool(get, 'allow-simulated', false),
    minBuilders: integer(get, 'min-builders', 1, MAX_MIN_BUILDERS),
    release: tag(get, context),
    publish: bool(get, 'publish', false),
  };
  const nonce = hexNonce(get);
  if (mode === 'verify') {
    const repoText = get('repository');
    const repository = repoText === '' ? context.repository : parseRepo(repoText);
    if (repository === null)
      throw bad('repository', `expected owner/repo, got ${JSON.stringify(repoText)}`);
    const artifacts = glob(get, 'artifacts', null);
    if (artifacts === null && common.release === null)
      throw bad(
        'release',
        'verify mode needs a release tag (the release input, or a workflow run on a tag) or the artifacts input',
      );
    if (common.githubToken === '' && (artifacts === null || common.publish))
      throw bad('github-token', 'required to read or publish the release');
    return {
      ...common,
      mode,
      repository,
      assets: glob(get, 'assets', INPUT_DEFAULTS.assets)!,
      artifacts,
      nonce,
      vsa: vsaInputs(get, bool(get, 'emit-vsa', false)),
    };
  }
  const uploadInput = oneOf(
    get,
    'upload',
    ['auto', 'release', 'artifact', 'none'] as const,
    'auto',
  );
  const upload: UploadTarget =
    uploadInput === 'auto' ? (common.release !== null ? 'release' : 'artifact') : uploadInput;
  if (upload === 'release' && common.release === null)
    throw bad('release', 'upload is release but there is no tag: set release, or run on a tag');
  if (upload === 'release' && common.githubToken === '')
    throw bad('github-token', 'required to upload to the release');
  if (common.publish && upload !== 'release')
    throw bad('publish', 'publishing needs upload: release (or auto on a tag)');
  const minutes =
    integer(get, 'timeout-minutes', 1, MAX_TIMEOUT_MINUTES) ?? DEFAULT_TIMEOUT_MINUTES;
  const token = get('agent-token');
  return {
    ...common,
    mode,
    config: workspacePath(get, 'config', INPUT_DEFAULTS.config),
    agentUrl: agentUrl(get),
    agentToken: token === '' ? null : token,
    nonce:
      nonce ??
      deriveNonce({
        repository: `${context.repository.owner}/${context.repository.repo}`,
        runId: context.runId,
        runAttempt: context.runAttempt,
      }),
    nonceDerived: nonce === null,
    upload,
    timeoutMs: minutes * 60_000,
  };
}
