/**
 * Deterministic packing of a directory as tar entries, and writing tar(.gz) files (Node-only).
 */
import type { Stats } from 'node:fs';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { ArchiveError } from './errors.js';
import { gzipBlocks } from './gzip-blocks.js';
import type { TarInputEntry } from './tar-write.js';
import { writeTar } from './tar-write.js';
import { compareUtf8 } from '../util/bytes.js';

/** A file's content as a stream of chunks. */
export function fileChunks(path: string, highWaterMark = 1 << 20): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark }) as AsyncIterable<Buffer>;
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

/** Bytes gathered before a piece of the tar stream goes down the pipeline. */
const PIECE_BYTES = 1024 * 1024;

/**
 * The tar stream in pieces of about PIECE_BYTES: the writer gives a header, a body and its
 * padding per entry (17 177 pieces for a source of 5 025 files), and every piece costs the
 * pipeline's stages and a write more than copying it together does.
 */
export async function* inPieces(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let held: Uint8Array[] = [];
  let bytes = 0;
  for await (const c of chunks) {
    held.push(c);
    bytes += c.length;
    if (bytes >= PIECE_BYTES) {
      yield held.length === 1 ? held[0]! : Buffer.concat(held, bytes);
      held = [];
      bytes = 0;
    }
  }
  if (bytes > 0) yield held.length === 1 ? held[0]! : Buffer.concat(held, bytes);
}

export interface WriteResult {
  bytes: number;
  sha256: string;
}

/** Writes tar entries to a file, gzip-compressed when `gzip` is set; returns size and SHA-256 of the file. */
export async function writeTarFile(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
  file: string,
  opts: {
    gzip?: boolean;
    level?: number;
    mtime?: number;
    gzipHeader?: Uint8Array;
    /** Compress blocks on several cores (./gzip-blocks.ts); needs `gzipHeader`. */
    gzipBlocks?: boolean;
  } = {},
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
  const tar = Readable.from(inPieces(writeTar(entries, { mtime: opts.mtime ?? 0 })), {
    objectMode: false,
  });
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
  if (opts.gzipBlocks && (!opts.gzip || opts.gzipHeader === undefined))
    throw new TypeError('writeTarFile: gzipBlocks needs gzip and gzipHeader');
  if (opts.gzip && opts.gzipBlocks && opts.gzipHeader !== undefined)
    await pipeline(
      tar,
      gzipBlocks({ level: opts.level ?? 6, header: opts.gzipHeader }),
      tap,
      createWriteStream(file),
    );
  else if (opts.gzip)
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
