import { errorGuard, TeeCompileError } from '../errors.js';

/** Refusal codes for archives (source archives, dependency sets, bundles). Add, never rename. */
export const ARCHIVE_ERROR_CODES = [
  'ARCHIVE_MALFORMED', // not a well-formed tar/zip/gzip stream (bad header checksum, truncated, bad number)
  'ARCHIVE_UNSAFE_PATH', // absolute path, `..`, empty or NUL component, or a path through a symlink
  'ARCHIVE_LINK', // a symlink or hard link that is not allowed here or points outside the archive
  'ARCHIVE_SPECIAL_FILE', // device, FIFO or other entry type that is never extracted
  'ARCHIVE_DUPLICATE_ENTRY', // the same path twice
  'ARCHIVE_TOO_LARGE', // an entry, the total, or the decompressed stream exceeds its limit
  'ARCHIVE_TOO_MANY_ENTRIES', // more entries than allowed
  'ARCHIVE_PATH_TOO_LONG', // a path longer or deeper than allowed
] as const;

export type ArchiveErrorCode = (typeof ARCHIVE_ERROR_CODES)[number];

export class ArchiveError extends TeeCompileError<ArchiveErrorCode> {}

export const isArchiveError = errorGuard(ArchiveError);
