/**
 * Validation of the fields of `POST /build`, shared by the JSON and the multipart forms. Every
 * refusal names its field. All of these values are attacker-controlled; none of them names a file
 * of the agent's (files are named by the agent). `workdir` is a path inside the extracted source:
 * checked here for its form, and on disk once the source is there (./prepare.ts).
 */
import { isIP } from 'node:net';
import { MAX_TOKEN_CHARS } from '../oidc/index.js';
import { isProvenanceError, parseBuildConfig, parseRepositoryUrl } from '../provenance/index.js';
// The agent forwards the nonce to the worker, so it accepts what the protocol accepts.
import { parseNonceHex } from '../util/nonce.js';
import { AgentError } from './errors.js';
/** Longest `repo_url`. */
export const MAX_REPO_URL_LENGTH = 2048;
/** Longest `repo_ref` (git refuses longer ref names on most file systems anyway). */
export const MAX_REPO_REF_LENGTH = 255;
/** Longest `source_name`. */
export const MAX_SOURCE_NAME_LENGTH = 255;
/** Largest `config` (JSON text of the build.json override). */
export const MAX_CONFIG_BYTES = 64 * 1024;
/** Longest `workdir` (bytes of UTF-8). */
export const MAX_WORKDIR_BYTES = 1024;
/** Longest `repository` (the recorded URL). */
export const MAX_REPOSITORY_LENGTH = 2048;

/** Hosts never cloned from: the EC2 instance metadata service holds the host's IAM credentials. */
const DENIED_HOSTS = new Set(['169.254.169.254', '[fd00:ec2::254]', 'metadata.google.internal']);

export function badField(field: string, message: string): AgentError {
  return new AgentError('AGENT_BAD_REQUEST', `${field}: ${message}`, { path: field });
}

/**
 * The workflow's OIDC token (`oidc_token`): a compact JWS. Only its form is checked here; the
 * worker checks its claims against the build and the verifier its signature.
 */
export function parseOidcToken(value: string, field = 'oidc_token'): string {
  if (
    value.length > MAX_TOKEN_CHARS ||
    !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value)
  )
    throw badField(field, 'expected a JWT (three base64url segments), as getIDToken returns');
  return value;
}

/** A hex nonce of MIN_NONCE_BYTES to MAX_NONCE_BYTES (16 to 64) bytes, returned in lower case. */
export function parseNonce(value: string, field = 'nonce'): string {
  const n = parseNonceHex(value);
  if (!n.ok) throw badField(field, n.message);
  return n.hex;
}

/** Options for repository URLs, from the agent's configuration. */
export interface RepoUrlPolicy {
  allowHttp: boolean;
  /** Null: any host. */
  allowedHosts: string[] | null;
}

/** True when `value` holds a C0 or C1 control character (NUL included) or DEL. */
function hasControl(value: string): boolean {
  for (const c of value) {
    const n = c.codePointAt(0)!;
    if (n < 0x20 || (n >= 0x7f && n <= 0x9f)) return true;
  }
  return false;
}

/**
 * The checks `repo_url` and `repository` share: an absolute `https://` URL (`http://` when
 * allowed) without whitespace, control characters, credentials, query or fragment.
 */
function parseHttpUrl(value: string, allowHttp: boolean, field: string, maxLength: number): URL {
  if (value.length === 0 || value.length > maxLength)
    throw badField(field, `expected a URL of at most ${maxLength} characters`);
  // Control characters and spaces could smuggle options or headers into git's requests.
  if (/[\s\\]/.test(value) || hasControl(value))
    throw badField(field, 'contains whitespace or control characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badField(field, 'expected an absolute https:// URL');
  }
  const allowed = allowHttp ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(url.protocol))
    throw badField(
      field,
      `only ${allowHttp ? 'https:// and http://' : 'https://'} URLs are accepted`,
    );
  if (url.username !== '' || url.password !== '')
    throw badField(field, 'credentials in the URL are not accepted');
  // `URL` drops an empty query or fragment (`…/repo?`); the text still had one.
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(value))
    throw badField(field, 'a query or fragment is not accepted');
  return url;
}

/**
 * An `https://` repository URL (`http://` only when the configuration allows it). Never `file:`,
 * ssh, git's `ext::` or a local path; no credentials, query or fragment; never the instance
 * metadata service.
 */
export function parseRepoUrl(value: string, policy: RepoUrlPolicy, field = 'repo_url'): string {
  const url = parseHttpUrl(value, policy.allowHttp, field, MAX_REPO_URL_LENGTH);
  const host = url.hostname.toLowerCase();
  if (host === '' || DENIED_HOSTS.has(host) || (isIP(host) === 4 && host.startsWith('169.254.')))
    throw badField(field, `host '${host}' is not accepted`);
  if (policy.allowedHosts !== null && !policy.allowedHosts.includes(host))
    throw badField(field, `host '${host}' is not in this agent's allowed repository hosts`);
  return url.href;
}

/**
 * The repository an uploaded source is recorded as coming from (the provenance's
 * `source.repository`): an `https://` URL naming a repository (`http://` only when the
 * configuration allows plain HTTP), without credentials, query or fragment. It is never fetched,
 * so any host may be named; it is the client's statement, beside the commit and tree the enclave
 * binds. Returned in the one normal form (provenance's `parseRepositoryUrl`), as the verifier
 * compares it.
 */
export function parseRepository(
  value: string,
  policy: Pick<RepoUrlPolicy, 'allowHttp'>,
  field = 'repository',
): string {
  parseHttpUrl(value, policy.allowHttp, field, MAX_REPOSITORY_LENGTH);
  const repo = parseRepositoryUrl(value);
  if (!repo.ok)
    throw badField(
      field,
      `expected a repository's URL, such as https://github.com/owner/repo (${repo.code}: ${repo.message})`,
    );
  return repo.url;
}

/**
 * The directory of build.json inside the source, where the build runs: `.` (the source root) or
 * a relative POSIX path of real names, never leaving the source nor entering `.git`. Whether it
 * exists is known only once the source is prepared.
 */
export function parseWorkdir(value: string, field = 'workdir'): string {
  if (value.length === 0)
    throw badField(field, "expected '.' or a relative path inside the source, got ''");
  if (Buffer.byteLength(value) > MAX_WORKDIR_BYTES)
    throw badField(field, `longer than ${MAX_WORKDIR_BYTES} bytes`);
  if (hasControl(value)) throw badField(field, 'contains control characters');
  if (value.includes('\\'))
    throw badField(field, "expected a POSIX path ('/' between names, no backslash)");
  if (value === '.') return value;
  if (value.startsWith('/'))
    throw badField(field, 'expected a path relative to the source root, not an absolute one');
  const parts = value.split('/');
  if (parts.includes('..')) throw badField(field, "must not leave the source ('..')");
  if (parts.includes(''))
    throw badField(field, "has an empty component ('//', or a '/' at the end)");
  if (parts.some((p) => /^\.+$/.test(p)))
    throw badField(field, "has a component of dots only; give '.' alone for the source root");
  if (parts.some((p) => p.toLowerCase() === '.git'))
    throw badField(field, 'must not be inside .git');
  return value;
}

/**
 * A branch, tag or full commit id. Refuses what git refuses in ref names
 * (git-check-ref-format(1)) and anything that could read as an option.
 */
export function parseRepoRef(value: string, field = 'repo_ref'): string {
  if (value.length === 0 || value.length > MAX_REPO_REF_LENGTH)
    throw badField(
      field,
      `expected a branch, tag or commit id of at most ${MAX_REPO_REF_LENGTH} characters`,
    );
  const bad =
    !/^[A-Za-z0-9._/+-]+$/.test(value) ||
    value.startsWith('-') ||
    value.startsWith('/') ||
    value.endsWith('/') ||
    value.endsWith('.') ||
    value.endsWith('.lock') ||
    value.includes('..') ||
    value.includes('//') ||
    value.split('/').some((c) => c.startsWith('.'));
  if (bad) throw badField(field, 'not a valid branch, tag or commit id');
  return value;
}

/** True for a full commit id (SHA-1 or SHA-256). */
export function isCommitId(ref: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(ref);
}

/** The client's name of its archive: informational, never used as a path. */
export function parseSourceName(value: string, field = 'source_name'): string {
  if (
    value.length === 0 ||
    value.length > MAX_SOURCE_NAME_LENGTH ||
    !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(value)
  )
    throw badField(field, 'expected a file name (letters, digits, . _ + -)');
  return value;
}

/**
 * A build.json override: checked at the edge with the provenance module's own parser, so that a
 * bad field is a 400 naming it (`config.input.cmd`); returned as sent (the pipeline parses it
 * again).
 */
export function parseConfig(value: unknown, field = 'config'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badField(field, 'expected a build.json object');
  if (Buffer.byteLength(JSON.stringify(value)) > MAX_CONFIG_BYTES)
    throw badField(field, `larger than ${MAX_CONFIG_BYTES} bytes`);
  try {
    parseBuildConfig(value, field);
  } catch (err) {
    if (!isProvenanceError(err)) throw err;
    const path = err.path === undefined || err.path === '' ? field : `${field}.${err.path}`;
    const first = err.message.split('\n')[0] ?? err.message;
    throw new AgentError('AGENT_BAD_REQUEST', first, { path, cause: err });
  }
  return value as Record<string, unknown>;
}

/** Parses JSON text of a `config` given as a multipart field or file. */
export function parseConfigText(text: string, field = 'config'): Record<string, unknown> {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES)
    throw badField(field, `larger than ${MAX_CONFIG_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badField(field, 'not valid JSON');
  }
  return parseConfig(v, field);
}

/** Strict base64 (RFC 4648 §4, with padding, no whitespace); returns the bytes. */
export function decodeBase64(value: string, field: string, maxBytes: number): Buffer {
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
    throw badField(field, 'expected base64 (RFC 4648, padded, no whitespace)');
  if ((value.length / 4) * 3 > maxBytes + 2)
    throw new AgentError('AGENT_PAYLOAD_TOO_LARGE', `${field}: larger than ${maxBytes} bytes`, {
      path: field,
    });
  const buf = Buffer.from(value, 'base64');
  if (buf.length > maxBytes)
    throw new AgentError('AGENT_PAYLOAD_TOO_LARGE', `${field}: larger than ${maxBytes} bytes`, {
      path: field,
    });
  return buf;
}

/** Archive formats accepted for a source, told by their first bytes. */
export function sniffArchive(head: Uint8Array): 'zip' | 'tar.gz' | null {
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05)) return 'zip';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  return null;
}
