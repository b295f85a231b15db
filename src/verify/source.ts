/**
 * Source identity as a policy names it: full commit ids and repository URLs, normalised so that
 * the usual spellings of one repository compare equal.
 */

/** A full git commit id: 40 hex digits (SHA-1 repositories) or 64 (SHA-256 repositories). */
export const FULL_COMMIT_RE = /^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/;

/**
 * Only full commit ids are accepted. An abbreviated id is not an identity: a 7-digit prefix is 28
 * bits, and an attacker can grind a commit whose id starts with it.
 */
export function isFullCommit(s: string): boolean {
  return FULL_COMMIT_RE.test(s);
}

/** Commits compare case-insensitively (hex). */
export function sameCommit(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

const HOST_RE =
  /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+(?::[0-9]{1,5})?$/;
const SEGMENT_RE = /^[A-Za-z0-9._~-]+$/;

/**
 * Normalises a repository reference to `https://host/owner/repo` (lower-case host, no `.git`, no
 * trailing slash), or returns null when it is not one. Accepted: `https://host/owner/repo(.git)`,
 * `http://…`, `ssh://git@host/owner/repo.git`, `git@host:owner/repo.git`, `host/owner/repo`, and
 * `owner/repo` (GitHub).
 */
export function normaliseRepository(input: string): string | null {
  let s = input.trim();
  let host: string;
  let path: string;
  let m: RegExpExecArray | null;
  if ((m = /^(?:https?|git|ssh):\/\/(?:[^@/]+@)?([^/]+)\/(.+)$/i.exec(s)) !== null) {
    host = m[1]!;
    path = m[2]!;
  } else if ((m = /^[^@/:\s]+@([^:/]+):(.+)$/.exec(s)) !== null) {
    host = m[1]!;
    path = m[2]!;
  } else if ((m = /^([^/]+\.[^/]+)\/(.+)$/.exec(s)) !== null) {
    host = m[1]!;
    path = m[2]!;
  } else if (/^[^/]+\/[^/]+$/.test(s)) {
    host = 'github.com';
    path = s;
  } else return null;
  host = host.toLowerCase();
  path = path.replace(/\/+$/, '').replace(/\.git$/i, '');
  const segments = path.split('/');
  if (!HOST_RE.test(host)) return null;
  if (segments.length < 2) return null;
  if (segments.some((p) => !SEGMENT_RE.test(p) || p === '.' || p === '..')) return null;
  s = `https://${host}/${segments.join('/')}`;
  return s;
}

/**
 * Repositories compare by their normalised form, case-insensitively (GitHub, GitLab and most hosts
 * treat owner and repository names without regard to case).
 */
export function sameRepository(a: string, b: string): boolean {
  const x = normaliseRepository(a);
  const y = normaliseRepository(b);
  if (x === null || y === null) return false;
  return x.toLowerCase() === y.toLowerCase();
}
