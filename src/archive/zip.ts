/**
 * Safe extraction of an untrusted zip file to disk (Node-only), with yauzl reading the archive
 * and the same rules as tar extraction (./extract.ts).
 */
import { lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { ArchiveError } from './errors.js';
import type { ExtractOptions, ExtractResult } from './extract.js';
import { addParents, ensureEmptyDir, finishTimes, writeFileFrom } from './extract.js';
import { resolveLimits } from './limits.js';
import { EntryTracker, safeRelativePath, symlinkStaysInside } from './paths.js';

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
