/**
 * Source identity as a policy names it: full commit ids and repository URLs, normalised (by the
 * one normaliser, provenance/source/repository-url.ts) so that the usual spellings of one repository
 * compare equal.
 */
import { normalizeRepositoryUrl } from '../provenance/index.js';

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

/**
 * Repositories compare by their normalised form, case-insensitively (GitHub, GitLab and most hosts
 * treat owner and repository names without regard to case).
 */
export function sameRepository(a: string, b: string): boolean {
  const x = normalizeRepositoryUrl(a);
  const y = normalizeRepositoryUrl(b);
  if (x === null || y === null) return false;
  return x.toLowerCase() === y.toLowerCase();
}
