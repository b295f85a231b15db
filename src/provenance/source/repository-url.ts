/**
 * The one normaliser of repository URLs, used where a repository is recorded (the CLI's build and
 * inputs, the agent, the action) and where it is compared (the verifier's policy, `--repo`, the
 * report). Two copies of it once drifted apart: one kept a port the other dropped, so that a
 * repository with a port could not be verified.
 *
 * Normal form: `https://<host>[:<port>]/<segment>/<segment>[/…]`
 * - the host in lower case; the path's case kept (hosts differ on whether it matters);
 * - `https`, `http`, `git+https` and `git+http` keep a port other than their scheme's default
 *   (443, 80): it names the web server; `ssh://`, `git+ssh://`, `ssh+git://`, `git://` and
 *   scp-like `[user@]host:owner/repo` drop theirs (an SSH or git-daemon port says nothing about
 *   where the repository is on the web), and their user name;
 * - no `.git` suffix, no trailing slash, at least two path segments of `A-Z a-z 0-9 . _ ~ -`;
 * - `host.tld/owner/repo` and `owner/repo` (GitHub) are read as the user wrote them, except for a
 *   git remote (there they are local paths).
 * Refused, each with its code: credentials (any user info of an http(s) URL, a password of an SSH
 * one), a query or fragment, an empty or one-segment path, `.`/`..` segments, percent-escapes and
 * other characters, unknown schemes (`file://`, `ext::`), local paths.
 *
 * Our own parser rather than `URL`: WHATWG URL parsing resolves `..`, decodes and re-encodes, and
 * does not read scp-like SSH addresses; this one refuses what it does not understand. Pure (no
 * Node API): the verify path uses it in a browser.
 */
import type { RepositoryUrlErrorCode } from '../errors.js';

/** A normalised repository URL, or why the text is not one. */
export type RepositoryUrlResult =
  { ok: true; url: string } | { ok: false; code: RepositoryUrlErrorCode; message: string };

export interface RepositoryUrlOptions {
  /**
   * The text is a git remote as configured in a work tree (`remote.origin.url`): credentials in it
   * are dropped rather than refused (a token in a remote must never reach the provenance), and
   * `host/owner/repo` or `owner/repo` are not read as addresses (to git they are local paths).
   */
  remote?: boolean;
}

/** Longest repository URL read. */
export const MAX_REPOSITORY_URL_LENGTH = 2048;

const HTTP_SCHEMES = new Map([
  ['https', 443],
  ['http', 80],
  ['git+https', 443],
  ['git+http', 80],
]);
const OTHER_SCHEMES = new Set(['ssh', 'git+ssh', 'ssh+git', 'git']);

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DNS_HOST_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6_HOST_RE = /^\[[0-9a-f:.]+\]$/;
const SEGMENT_RE = /^[A-Za-z0-9._~-]+$/;
const USER_RE = /^[A-Za-z0-9._-]+$/;

type Refused = Extract<RepositoryUrlResult, { ok: false }>;

function refuse(code: RepositoryUrlErrorCode, message: string): Refused {
  return { ok: false, code, message };
}

/** The host (lower case) and port checked; null port when absent. */
function hostPort(text: string): { host: string; port: number | null } | Refused {
  const m = /^(\[[^\]]*\]|[^:]*)(?::([0-9]*))?$/.exec(text);
  if (m === null) return refuse('REPOSITORY_URL_HOST', `'${text}' is not a host[:port]`);
  const host = m[1]!.toLowerCase();
  if (host === '' || (!DNS_HOST_RE.test(host) && !IPV6_HOST_RE.test(host)))
    return refuse('REPOSITORY_URL_HOST', `'${m[1]!}' is not a host name`);
  if (m[2] === undefined) return { host, port: null };
  const port = Number(m[2]);
  if (m[2] === '' || m[2].length > 5 || port < 1 || port > 65535)
    return refuse('REPOSITORY_URL_HOST', `'${m[2]}' is not a port (1 to 65535)`);
  return { host, port };
}

/** The path's segments, checked (no `.git`, no trailing slash), or why not. */
function segments(path: string): string[] | Refused {
  const p = path
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '');
  if (p === '') return refuse('REPOSITORY_URL_PATH', 'the path is empty: expected /owner/repo');
  const parts = p.split('/');
  if (parts.some((s) => s === '.' || s === '..'))
    return refuse('REPOSITORY_URL_DOT_SEGMENT', `the path '${path}' has a '.' or '..' segment`);
  if (parts.some((s) => s === ''))
    return refuse('REPOSITORY_URL_PATH', `the path '${path}' has an empty segment`);
  const bad = parts.find((s) => !SEGMENT_RE.test(s));
  if (bad !== undefined)
    return refuse(
      'REPOSITORY_URL_PATH',
      `the path segment '${bad}' has characters other than A-Z a-z 0-9 . _ ~ -`,
    );
  if (parts.length < 2)
    return refuse(
      'REPOSITORY_URL_PATH',
      `the path '${path}' names no repository: expected /owner/repo`,
    );
  return parts;
}

function result(host: string, port: number | null, path: string): RepositoryUrlResult {
  const parts = segments(path);
  if (!Array.isArray(parts)) return parts;
  return { ok: true, url: `https://${host}${port === null ? '' : `:${port}`}/${parts.join('/')}` };
}

/** `scheme://[userinfo@]host[:port]/path`. */
function schemeForm(scheme: string, rest: string, opts: RepositoryUrlOptions): RepositoryUrlResult {
  const defaultPort = HTTP_SCHEMES.get(scheme);
  if (defaultPort === undefined && !OTHER_SCHEMES.has(scheme))
    return refuse('REPOSITORY_URL_FORM', `'${scheme}://' is not a repository address scheme`);
  const slash = rest.indexOf('/');
  let authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const user = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const secret = defaultPort !== undefined || user.includes(':') || !USER_RE.test(user);
    if (secret && opts.remote !== true)
      return refuse(
        'REPOSITORY_URL_CREDENTIALS',
        'the URL carries credentials (user info); give the repository without them',
      );
  }
  const hp = hostPort(authority);
  if ('ok' in hp) return hp;
  const port = defaultPort !== undefined && hp.port !== defaultPort ? hp.port : null;
  return result(hp.host, port, path);
}

/**
 * Normalises a repository address to `https://host[:port]/owner/repo` (see the module comment for
 * the forms read and the normal form), or says why it is not one.
 */
export function parseRepositoryUrl(
  input: string,
  opts: RepositoryUrlOptions = {},
): RepositoryUrlResult {
  const s = input.trim();
  if (s === '') return refuse('REPOSITORY_URL_EMPTY', 'no repository given');
  if (s.length > MAX_REPOSITORY_URL_LENGTH)
    return refuse('REPOSITORY_URL_FORM', `longer than ${MAX_REPOSITORY_URL_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f\\]/.test(s) || /[^\x20-\x7e]/.test(s))
    return refuse(
      'REPOSITORY_URL_FORM',
      'spaces, control characters, backslashes or non-ASCII characters are not part of a repository address',
    );
  if (/[?#]/.test(s))
    return refuse(
      'REPOSITORY_URL_QUERY',
      'a query or fragment is not part of a repository address',
    );
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(s);
  if (scheme !== null) return schemeForm(scheme[1]!.toLowerCase(), scheme[2]!, opts);
  // scp-like `[user@]host:path` (git reads it so when no slash comes before the colon); a user or
  // a dotted host tells it from a drive letter or a local file name with a colon.
  const scp = /^(?:([^@/]*)@)?([^@/:]+):(.*)$/.exec(s);
  if (scp !== null && (scp[1] !== undefined || scp[2]!.includes('.'))) {
    if (scp[1] !== undefined && !USER_RE.test(scp[1]) && opts.remote !== true)
      return refuse(
        'REPOSITORY_URL_CREDENTIALS',
        'the address carries credentials (user info other than a user name)',
      );
    const hp = hostPort(scp[2]!);
    if ('ok' in hp) return hp;
    return result(hp.host, null, scp[3]!);
  }
  if (opts.remote !== true) {
    // `host.tld/owner/repo`, and `owner/repo` on GitHub.
    const bare = /^([^/@:]+\.[^/@:]+)(\/.*)$/.exec(s);
    if (bare !== null) {
      const hp = hostPort(bare[1]!);
      if ('ok' in hp) return hp;
      return result(hp.host, null, bare[2]!);
    }
    if (/^[^/@:.][^/@:]*\/[^/@:]+\/?$/.test(s)) return result('github.com', null, s);
  }
  return refuse(
    'REPOSITORY_URL_FORM',
    `'${s}' is not a repository address (expected https://host/owner/repo, ssh://git@host/owner/repo or git@host:owner/repo)`,
  );
}

/** The normal form of a repository address (see `parseRepositoryUrl`), or null when it is not one. */
export function normalizeRepositoryUrl(
  input: string,
  opts: RepositoryUrlOptions = {},
): string | null {
  const r = parseRepositoryUrl(input, opts);
  return r.ok ? r.url : null;
}
