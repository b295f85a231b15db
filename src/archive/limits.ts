/** Bounds applied when reading an archive from an untrusted source. */
export interface ArchiveLimits {
  /** Maximum number of entries (files, directories, links). */
  maxEntries: number;
  /** Maximum size of one file. */
  maxEntryBytes: number;
  /** Maximum sum of file sizes (and of the decompressed stream). */
  maxTotalBytes: number;
  /** Maximum length of a path in bytes. */
  maxPathBytes: number;
  /** Maximum number of path components. */
  maxDepth: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 200_000,
  maxEntryBytes: 4 * 1024 ** 3,
  maxTotalBytes: 8 * 1024 ** 3,
  maxPathBytes: 4096,
  maxDepth: 64,
};

/** Fills unspecified limits with the defaults. */
export function resolveLimits(l?: Partial<ArchiveLimits>): ArchiveLimits {
  return { ...DEFAULT_ARCHIVE_LIMITS, ...l };
}
