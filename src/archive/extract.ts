/**
 * Safe extraction of untrusted tar and tar.gz streams to disk (Node-only), and what extraction of
 * a zip file (./zip.ts) shares with it: the options, the result, and how files and times are
 * written.
 */
import {
  closeSync,
  constants,
  futimesSync,
  mkdirSync,
  openSync,
  utimesSync,
  writeSync,
} from 'node:fs';
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
  /**
   * With `blobIds`: keep the bytes of files up to SMALL_FILE_BYTES in `blobs` (`data`), up to this
   * many bytes in all, for a consumer that would otherwise read them back (the worker's `.git`).
   */
  keepBytes?: number;
}

/** A file's git blob id, hashed from the bytes written. */
export interface WrittenBlob {
  oid: Uint8Array;
  executable: boolean;
  /** Bytes written. */
  size: number;
  /** The bytes themselves, when kept (`ExtractOptions.keepBytes`). */
  data?: Uint8Array;
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

/**
 * Files up to this size are written with synchronous calls, from one buffer: most files of a
 * source tree are small, and four trips through the thread pool per file cost more than the
 * writes (GNU tar unpacks a 7 946-file tree in a quarter of the time otherwise).
 */
export const SMALL_FILE_BYTES = 256 * 1024;

/** `writeFileFrom` for a body already in memory, its mtime set before it is closed. */
function writeSmallFile(
  full: string,
  executable: boolean,
  data: Uint8Array,
  mtime: number | undefined,
): void {
  const fd = openSync(full, FILE_FLAGS, executable ? 0o755 : 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (mtime !== undefined) futimesSync(fd, mtime, mtime);
  } finally {
    closeSync(fd);
  }
}

/** Sets the mtime of the extracted directories and of `dest` itself, when asked. */
export async function finishTimes(
  dest: string,
  dirs: Set<string>,
  mtime: number | undefined,
): Promise<void> {
  if (mtime === undefined) return;
  // Directories last (and deepest first): writing into a directory changes its mtime. With
  // synchronous calls: in sequence anyway, and a trip through the thread pool per folder cost
  // more than the call (lazygit's 2 922 folders: 70 ms against a few).
  for (const d of [...dirs].sort((a, b) => b.length - a.length))
    utimesSync(join(dest, d), mtime, mtime);
  utimesSync(dest, mtime, mtime);
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
  /** Directories made (or found) on disk: a source tree has thousands of files per few folders. */
  const made = new Set<string>([dest]);
  let keep = opts.keepBytes ?? 0;
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
        made.add(full);
        dirs.add(e.path);
        res.directories++;
        continue;
      }
      if (!made.has(parent)) {
        // Synchronous, as the small files' writes (below) and for the same reason.
        mkdirSync(parent, { recursive: true, mode: 0o755 });
        made.add(parent);
      }
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
      let kept: Uint8Array | undefined;
      if (e.size <= SMALL_FILE_BYTES) {
        const parts: Uint8Array[] = [];
        for await (const c of e.body) parts.push(c);
        const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        hash?.update(data);
        writeSmallFile(full, executable, data, opts.mtime);
        if (data.length <= keep) {
          kept = data;
          keep -= data.length;
        }
      } else {
        await writeFileFrom(full, executable, e.body, hash);
        if (opts.mtime !== undefined) await utimes(full, opts.mtime, opts.mtime);
      }
      if (hash !== undefined) {
        const blob: WrittenBlob = { oid: hash.digest(), executable, size: e.size };
        if (kept !== undefined) blob.data = kept;
        (res.blobs ??= new Map()).set(full, blob);
      }
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
