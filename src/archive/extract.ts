/**
 * Safe extraction of untrusted tar and tar.gz streams to disk (Node-only), and what extraction of
 * a zip file (./zip.ts) shares with it: the options, the result, and how files and times are
 * written.
 */
import { constants } from 'node:fs';
import type { Hash } from 'node:crypto';
import { createHash } from 'node:crypto';
import { lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipBounded } from './gzip.js';
import { decompressedBound } from './index.js';
import type { ArchiveLimits } from './limits.js';
import { resolveLimits } from './limits.js';
import { readTar } from './tar-parse.js';

export interface ExtractOptions {
  limits?: Partial<ArchiveLimits>;
  /** `refuse` (default) or `inside` (relative targets that stay inside the destination). */
  symlinks?: 'refuse' | 'inside';
  /** Set every extracted entry's mtime to this (seconds since the epoch); default: leave as written. */
  mtime?: number;
  /**
   * Hash each file as a git blob with this algorithm while it is written: `blobs` of the result,
   * by absolute path, so that the tree id can be checked without reading the files again.
   */
  blobIds?: 'sha1' | 'sha256';
}

/** A file's git blob id, hashed from the bytes written. */
export interface WrittenBlob {
  oid: Uint8Array;
  executable: boolean;
}

export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  /** Sum of file sizes. */
  bytes: number;
  /** With `blobIds`: each file's blob id, by absolute path. */
  blobs?: Map<string, WrittenBlob>;
}

/** Creates `dest`, which must be empty. */
export async function ensureEmptyDir(dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const existing = await readdir(dest);
  if (existing.length > 0) throw new Error(`extraction target ${dest} is not empty`);
}

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Writes a new file (never through a link, never over a file) from `body`. */
export async function writeFileFrom(
  full: string,
  executable: boolean,
  body: AsyncIterable<Uint8Array>,
  hash?: Hash,
): Promise<void> {
  const fh = await open(full, FILE_FLAGS, executable ? 0o755 : 0o644);
  try {
    for await (const chunk of body) {
      hash?.update(chunk);
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
    }
  } finally {
    await fh.close();
  }
}

/** Sets the mtime of the extracted directories and of `dest` itself, when asked. */
export async function finishTimes(
  dest: string,
  dirs: Set<string>,
  mtime: number | undefined,
): Promise<void> {
  if (mtime === undefined) return;
  // Directories last (and deepest first): writing into a directory changes its mtime.
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    await utimes(join(dest, d), mtime, mtime);
  }
  await utimes(dest, mtime, mtime);
}

/** Adds every ancestor directory of `path` to `dirs`. */
export function addParents(dirs: Set<string>, path: string): void {
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i));
}

/**
 * Extracts an untrusted tar or tar.gz stream into `dest` (created; must be empty). Refuses path
 * escapes, links (unless `symlinks: 'inside'`), devices, duplicates and anything over the limits;
 * on refusal, `dest` is removed.
 */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  dest: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const limits = resolveLimits(opts.limits);
  await ensureEmptyDir(dest);
  const res: ExtractResult = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const dirs = new Set<string>();
  try {
    const plain = gunzipBounded(source, decompressedBound(limits));
    for await (const e of readTar(plain, { limits, symlinks: opts.symlinks ?? 'refuse' })) {
      const full = join(dest, e.path);
      addParents(dirs, e.path);
      const parent = e.path.includes('/')
        ? join(dest, e.path.slice(0, e.path.lastIndexOf('/')))
        : dest;
      if (e.type === 'directory') {
        await mkdir(full, { recursive: true, mode: 0o755 });
        dirs.add(e.path);
        res.directories++;
        continue;
      }
      await mkdir(parent, { recursive: true, mode: 0o755 });
      if (e.type === 'symlink') {
        await symlink(e.linkTarget!, full);
        if (opts.mtime !== undefined) await lutimes(full, opts.mtime, opts.mtime);
        res.symlinks++;
        continue;
      }
      const executable = (e.mode & 0o111) !== 0;
      let hash: Hash | undefined;
      if (opts.blobIds !== undefined) {
        hash = createHash(opts.blobIds).update(`blob ${e.size}\0`);
      }
      await writeFileFrom(full, executable, e.body, hash);
      if (hash !== undefined)
        (res.blobs ??= new Map()).set(full, { oid: hash.digest(), executable });
      if (opts.mtime !== undefined) await utimes(full, opts.mtime, opts.mtime);
      res.files++;
      res.bytes += e.size;
    }
    await finishTimes(dest, dirs, opts.mtime);
    return res;
  } catch (err) {
    await rm(dest, { recursive: true, force: true });
    throw err;
  }
}
