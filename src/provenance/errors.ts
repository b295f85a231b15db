import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Refusal codes of the provenance module. Codes are API: add, never rename. docs/provenance.md
 * explains each one and how to fix it.
 */
export const PROVENANCE_ERROR_CODES = [
  // Source
  'SOURCE_NOT_GIT', // not a git work tree, not its top level, or no commit yet
  'SOURCE_DIRTY', // uncommitted or untracked (non-ignored) changes, and a clean tree was required
  'SOURCE_SUBMODULE', // the tree contains a submodule (gitlink, mode 160000)
  'SOURCE_UNSUPPORTED_ENTRY', // a file the source archive cannot carry (non-UTF-8 name, special file, link out of the tree)
  'SOURCE_TREE_MISMATCH', // the files do not hash to the claimed tree id
  'SOURCE_COMMIT_MISMATCH', // the commit object does not hash to the claimed commit id, or names another tree
  'COMMIT_MALFORMED', // the raw commit object does not follow git's commit format
  'TAG_MALFORMED', // the raw tag object does not follow git's tag format
  'SOURCE_TAG_INVALID', // the tag to build does not exist, is lightweight (no tag object), or names another commit
  'ORIGIN_INVALID', // a recorded commit/tag object or OIDC token does not match what the provenance states
  'GIT_FAILED', // a git command failed unexpectedly
  // Lockfiles and dependencies
  'LOCKFILE_MISSING', // no lockfile where the language needs one
  'LOCKFILE_MALFORMED', // the lockfile is not valid (syntax, shape, checksum notation)
  'LOCKFILE_UNSUPPORTED', // a lockfile version or kind this version does not read
  'DEPENDENCY_UNPINNED', // a dependency without a lockfile checksum (git, path, link), not allowed
  'DEPENDENCY_MISSING', // a locked dependency is absent from the dependency set
  'DEPENDENCY_DIGEST_MISMATCH', // a dependency's bytes differ from the lockfile checksum
  'DEPENDENCY_UNEXPECTED_FILE', // the dependency set holds a file no locked dependency accounts for
  'DEPENDENCY_MALFORMED', // an archive matches its checksum but cannot be used (layout, unsafe entries)
  'DEPENDENCY_FETCH_FAILED', // the host could not fetch a dependency (network, registry, tool failure)
  // Build configuration, toolchain, statement
  'CONFIG_MISSING', // no build.json where one is required
  'CONFIG_INVALID', // build.json is not valid JSON or does not follow the schema
  'TOOLCHAIN_NOT_FOUND', // a toolchain binary could not be found or run
  'STATEMENT_INVALID', // provenance.json is not a valid statement (JSON, shape, values, Merkle root)
  'STATEMENT_NOT_CANONICAL', // provenance.json is valid but not in its canonical byte form
] as const;

export type ProvenanceErrorCode = (typeof PROVENANCE_ERROR_CODES)[number];

/** Refusal codes of `parseRepositoryUrl`. Codes are API: add, never rename. */
export const REPOSITORY_URL_ERROR_CODES = [
  'REPOSITORY_URL_EMPTY', // nothing given
  'REPOSITORY_URL_FORM', // not a repository address: unknown scheme, local path, spaces or control characters
  'REPOSITORY_URL_CREDENTIALS', // a user name or password of an http(s) URL, a password of an SSH URL
  'REPOSITORY_URL_QUERY', // a query (`?`) or fragment (`#`)
  'REPOSITORY_URL_HOST', // a host or port that is not valid
  'REPOSITORY_URL_PATH', // an empty or one-segment path, an empty segment, a character outside A-Z a-z 0-9 . _ ~ -
  'REPOSITORY_URL_DOT_SEGMENT', // a `.` or `..` path segment
] as const;

export type RepositoryUrlErrorCode = (typeof REPOSITORY_URL_ERROR_CODES)[number];

/** Every error the provenance module raises on purpose. */
export class ProvenanceError extends TeeCompileError<ProvenanceErrorCode> {}

/** True for errors raised by the provenance module. */
export const isProvenanceError = errorGuard(ProvenanceError);

/** Shorthand: a provenance error with a path. */
export function provenanceError(
  code: ProvenanceErrorCode,
  message: string,
  path?: string,
  cause?: unknown,
): ProvenanceError {
  return new ProvenanceError(code, message, { path, cause });
}

/** Lists up to `max` items, then says how many more. */
export function listSome(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}
