/**
 * Archives: deterministic tar writing, strict tar reading, bounded gzip. Pure (browser-capable);
 * the Node-only parts (extraction to disk, packing a directory, zip) are in `./node.ts`.
 */
export { ARCHIVE_ERROR_CODES, ArchiveError, isArchiveError } from './errors.js';
export type { ArchiveErrorCode } from './errors.js';
export { DEFAULT_ARCHIVE_LIMITS, resolveLimits } from './limits.js';
export type { ArchiveLimits } from './limits.js';
export { readTar } from './tar-parse.js';
export type { TarEntry, TarEntryType, TarReadOptions } from './tar-parse.js';
export { encodeEntryHead, tarSize, writeTar } from './tar-write.js';
export { BLOCK, isAllZero, parsePax } from './tar-header.js';
export type { TarInputEntry, TarWriteOptions } from './tar-write.js';
export { gunzipBounded, isGzip } from './gzip.js';
export { ByteReader } from './byte-reader.js';
export { safeRelativePath, symlinkStaysInside } from './paths.js';

import { collect } from '../util/bytes.js';
import { gunzipBounded } from './gzip.js';
import type { ArchiveLimits } from './limits.js';
import { resolveLimits } from './limits.js';
import type { TarReadOptions } from './tar-parse.js';
import { readTar } from './tar-parse.js';

/** A file read fully into memory from an archive. */
export interface MemoryFile {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  executable: boolean;
  bytes: Uint8Array;
  linkTarget?: string;
}

/**
 * Reads a whole (optionally gzip-compressed) tar archive into memory, with limits. Meant for
 * bounded archives such as bundles; use `extractTar` in `./node.ts` for large trees.
 */
export async function readTarToMemory(
  source: AsyncIterable<Uint8Array>,
  opts: TarReadOptions & { limits?: Partial<ArchiveLimits> } = {},
): Promise<MemoryFile[]> {
  const limits = resolveLimits(opts.limits);
  const plain = gunzipBounded(source, decompressedBound(limits));
  const out: MemoryFile[] = [];
  for await (const e of readTar(plain, { ...opts, limits })) {
    const f: MemoryFile = {
      path: e.path,
      type: e.type,
      executable: (e.mode & 0o111) !== 0,
      bytes: e.type === 'file' ? await collect(e.body) : new Uint8Array(0),
    };
    if (e.linkTarget !== undefined) f.linkTarget = e.linkTarget;
    out.push(f);
  }
  return out;
}

/** Bound on a decompressed tar stream: content plus headers and padding for every entry. */
export function decompressedBound(limits: ArchiveLimits): number {
  return limits.maxTotalBytes + (limits.maxEntries + 4) * 2048;
}
