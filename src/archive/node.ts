/**
 * Node-only archive helpers: safe extraction of untrusted tar/zip archives to disk, deterministic
 * packing of a directory, and writing tar(.gz) files.
 */
import type { Stats } from 'node:fs';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
  lutimes,
} from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import yauzl from 'yauzl';
import { ArchiveError } from './errors.js';
import { gunzipBounded } from './gzip.js';
import { decompressedBound } from './index.js';
import type { ArchiveLimits } from './limits.js';
import { resolveLimits } from './limits.js';
import { EntryTracker, safeRelativePath, symlinkStaysInside } from './paths.js';
import { readTar } from './tar-parse.js';
import type { TarInputEntry } from './tar-write.js';
import { writeTar } from './tar-write.js';
import { compareUtf8 } from '../util/bytes.js';

export interface ExtractOptions {
  limits?: Partial<ArchiveLimits>;
  /** `refuse` (default) or `inside` (relative targets that stay inside the destination). */
  symlinks?: 'refuse' | 'inside';
  /** Set every extracted entry's mtime to this (seconds since the epoch); default: leave as written. */
  mtime?: number;
}

export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  /** Sum of file sizes. */
  bytes: number;
}

/** A file's content as a stream of chunks. */
export function fileChunks(path: string, highWaterMark = 1 << 20): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark }) as AsyncIterable<Buffer>;
}

async function ensureEmptyDir(dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const existing = await readdir(dest);
  if (existing.length > 0) throw new Error(`extraction target ${dest} is not empty`);
}

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

async function writeFileFrom(
  full: string,
  executable: boolean,
  body: AsyncIterable<Uint8Array>,
): Promise<void> {
  const fh = await open(full, FILE_FLAGS, executable ? 0o755 : 0o644);
  try {
    for await (const chunk of body) {
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

async function finishTimes(
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
      await writeFileFrom(full, (e.mode & 0o111) !== 0, e.body);
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

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      file,
      { lazyEntries: true, autoClose: true, validateEntrySizes: true, strictFileNames: true },
      (err, zip) => {
        if (err)
          reject(
            new ArchiveError('ARCHIVE_MALFORMED', `not a valid zip archive: ${err.message}`, {
              cause: err,
            }),
          );
        else resolve(zip);
      },
    );
  });
}

/**
 * An entry's content stream. yauzl forwards its inner streams' errors to this stream with a plain
 * `emit`, a tick later, so an error can come before we read, while we read, or after we stop: the
 * stream gets its listener as soon as it exists, for its whole life. Each error destroys the stream,
 * which a reader then sees (an iterator started later too); once destroyed, later errors go nowhere.
 */
function zipEntryStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) {
        reject(
          new ArchiveError(
            'ARCHIVE_MALFORMED',
            `unreadable zip entry ${entry.fileName}: ${err.message}`,
            { cause: err },
          ),
        );
        return;
      }
      stream.on('error', (e: Error) => stream.destroy(e));
      resolve(stream);
    });
  });
}

/** The chunks of an entry's stream; its errors (a size lie, bad deflate data) as ARCHIVE_MALFORMED. */
async function* zipEntryContent(stream: Readable, path: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    throw new ArchiveError(
      'ARCHIVE_MALFORMED',
      `corrupt zip entry ${path}: ${(err as Error).message}`,
      { path, cause: err },
    );
  }
}

/**
 * Entries one at a time. The zip file keeps one error listener for its whole life: yauzl emits an
 * error only once, and may do so while no entry is asked for (closing its file); that error is then
 * the answer to the next request.
 */
function zipEntries(zip: yauzl.ZipFile): () => Promise<yauzl.Entry | null> {
  let failure: Error | undefined;
  let waiting: { resolve: (e: yauzl.Entry | null) => void; reject: (e: Error) => void } | undefined;
  const settle = (): NonNullable<typeof waiting> | undefined => {
    const w = waiting;
    waiting = undefined;
    return w;
  };
  zip.on('entry', (e: yauzl.Entry) => settle()?.resolve(e));
  zip.on('end', () => settle()?.resolve(null));
  zip.on('error', (err: Error) => {
    failure ??= err;
    settle()?.reject(zipError(err));
  });
  return () =>
    new Promise((resolve, reject) => {
      if (failure) {
        reject(zipError(failure));
        return;
      }
      waiting = { resolve, reject };
      zip.readEntry();
    });
}

/** yauzl validates names itself; its refusals of unsafe names keep our code. */
function zipError(err: Error): ArchiveError {
  if (err instanceof ArchiveError) return err;
  if (/^(absolute path|invalid relative path|invalid characters in fileName)/.test(err.message)) {
    return new ArchiveError('ARCHIVE_UNSAFE_PATH', `unsafe path in zip archive: ${err.message}`, {
      cause: err,
    });
  }
  return new ArchiveError('ARCHIVE_MALFORMED', `corrupt zip archive: ${err.message}`, {
    cause: err,
  });
}

/** Adds every ancestor directory of `path` to `dirs`. */
function addParents(dirs: Set<string>, path: string): void {
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i));
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

/**
 * Extracts an untrusted zip file into `dest` (created; must be empty), with the same rules as
 * `extractTar`. Sizes are checked against the central directory before reading and against the
 * actual stream while reading (zip bombs).
 */
export async function extractZip(
  file: string,
  dest: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  const limits = resolveLimits(opts.limits);
  const symlinks = opts.symlinks ?? 'refuse';
  await ensureEmptyDir(dest);
  const res: ExtractResult = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const dirs = new Set<string>();
  const tracker = new EntryTracker();
  let zip: yauzl.ZipFile | undefined;
  try {
    zip = await openZip(file);
    if (zip.entryCount > limits.maxEntries) {
      throw new ArchiveError(
        'ARCHIVE_TOO_MANY_ENTRIES',
        `archive has ${zip.entryCount} entries, more than ${limits.maxEntries}`,
      );
    }
    const z = zip;
    const next = zipEntries(z);
    for (let entry = await next(); entry !== null; entry = await next()) {
      const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const fmt = unixMode & S_IFMT;
      const isDir = entry.fileName.endsWith('/') || fmt === S_IFDIR;
      const isLink = fmt === S_IFLNK;
      if (fmt !== 0 && !isDir && !isLink && fmt !== S_IFREG) {
        throw new ArchiveError(
          'ARCHIVE_SPECIAL_FILE',
          `device or FIFO in archive: ${entry.fileName}`,
          { path: entry.fileName },
        );
      }
      const path = safeRelativePath(entry.fileName, limits);
      const kind = isDir ? 'directory' : isLink ? 'symlink' : 'file';
      tracker.add(path, kind);
      addParents(dirs, path);
      const full = join(dest, path);
      if (isDir) {
        await mkdir(full, { recursive: true, mode: 0o755 });
        dirs.add(path);
        res.directories++;
        continue;
      }
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        throw new ArchiveError(
          'ARCHIVE_TOO_LARGE',
          `${path} is ${entry.uncompressedSize} bytes, more than the ${limits.maxEntryBytes} allowed`,
          { path },
        );
      }
      if (res.bytes + entry.uncompressedSize > limits.maxTotalBytes) {
        throw new ArchiveError(
          'ARCHIVE_TOO_LARGE',
          `archive content exceeds ${limits.maxTotalBytes} bytes`,
          { path },
        );
      }
      if (isLink && symlinks === 'refuse')
        throw new ArchiveError('ARCHIVE_LINK', `symlink in archive: ${path}`, { path });
      await mkdir(join(full, '..'), { recursive: true, mode: 0o755 });
      const stream = await zipEntryStream(z, entry);
      try {
        const content = zipEntryContent(stream, path);
        if (isLink) {
          const chunks: Buffer[] = [];
          let n = 0;
          for await (const c of content) {
            n += c.length;
            if (n > limits.maxPathBytes)
              throw new ArchiveError('ARCHIVE_LINK', `symlink target too long: ${path}`, { path });
            chunks.push(c);
          }
          const target = Buffer.concat(chunks).toString('utf8');
          if (!symlinkStaysInside(path, target)) {
            throw new ArchiveError(
              'ARCHIVE_LINK',
              `symlink points outside the archive: ${path} -> ${target}`,
              { path },
            );
          }
          await symlink(target, full);
          if (opts.mtime !== undefined) await lutimes(full, opts.mtime, opts.mtime);
          res.symlinks++;
          continue;
        }
        await writeFileFrom(full, (unixMode & 0o111) !== 0, content);
      } finally {
        // Also when the content was never read (the file could not be created): what yauzl still
        // has in flight is dropped, and its file handle released.
        stream.destroy();
      }
      if (opts.mtime !== undefined) await utimes(full, opts.mtime, opts.mtime);
      res.files++;
      res.bytes += entry.uncompressedSize;
    }
    await finishTimes(dest, dirs, opts.mtime);
    return res;
  } catch (err) {
    zip?.close();
    await rm(dest, { recursive: true, force: true });
    throw err;
  }
}

export interface PackOptions {
  /** Return true to leave a relative path (and, for directories, everything below it) out. */
  exclude?: (relPath: string, isDirectory: boolean) => boolean;
  /** Include directory entries (default false: directories are implied by their files). */
  includeDirectories?: boolean;
}

/**
 * Lists a directory as tar entries in a deterministic order (bytewise by path), reading file
 * content lazily. Symlinks are kept as symlinks; other special files are refused.
 */
export async function* packDirectory(
  root: string,
  opts: PackOptions = {},
): AsyncGenerator<TarInputEntry> {
  async function* walk(rel: string): AsyncGenerator<TarInputEntry> {
    const abs = rel === '' ? root : join(root, rel);
    const entries: { rel: string; st: Stats }[] = [];
    for (const name of await readdir(abs)) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(root, r));
      if (opts.exclude?.(r, st.isDirectory())) continue;
      entries.push({ rel: r, st });
    }
    // Bytewise order of full paths: a directory's children sort as `name/…`.
    const key = (e: { rel: string; st: Stats }): string =>
      e.st.isDirectory() ? `${e.rel}/` : e.rel;
    entries.sort((a, b) => compareUtf8(key(a), key(b)));
    for (const { rel: r, st } of entries) {
      const full = join(root, r);
      if (st.isDirectory()) {
        if (opts.includeDirectories) yield { path: r, type: 'directory' };
        yield* walk(r);
      } else if (st.isSymbolicLink()) {
        yield { path: r, type: 'symlink', linkTarget: await readlink(full) };
      } else if (st.isFile()) {
        yield {
          path: r,
          type: 'file',
          executable: (st.mode & 0o111) !== 0,
          size: st.size,
          content: fileChunks(full),
        };
      } else {
        throw new ArchiveError('ARCHIVE_SPECIAL_FILE', `cannot archive special file ${r}`, {
          path: r,
        });
      }
    }
  }
  yield* walk('');
}

export interface WriteResult {
  bytes: number;
  sha256: string;
}

/** Writes tar entries to a file, gzip-compressed when `gzip` is set; returns size and SHA-256 of the file. */
export async function writeTarFile(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
  file: string,
  opts: { gzip?: boolean; level?: number; mtime?: number; gzipHeader?: Uint8Array } = {},
): Promise<WriteResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const tar = Readable.from(writeTar(entries, { mtime: opts.mtime ?? 0 }), { objectMode: false });
  // A fixed gzip header (RFC 1952 §2.3: XFL and OS are informational) replaces zlib's, whose OS
  // byte depends on the platform zlib was built for.
  let head = opts.gzipHeader ?? new Uint8Array(0);
  const fixHeader = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (head.length > 0) {
        const n = Math.min(head.length, chunk.length);
        chunk = Buffer.from(chunk);
        chunk.set(head.subarray(0, n), 0);
        head = head.subarray(n);
      }
      cb(null, chunk);
    },
  });
  if (opts.gzip)
    await pipeline(
      tar,
      createGzip({ level: opts.level ?? 6 }),
      fixHeader,
      tap,
      createWriteStream(file),
    );
  else await pipeline(tar, tap, createWriteStream(file));
  return { bytes, sha256: hash.digest('hex') };
}
