/**
 * Strict, streaming tar reader for untrusted archives. Every member name is normalised and checked
 * (no absolute paths, no `..`, no path through a symlink or file), entry types are restricted, and
 * sizes and counts are bounded before any content is read. Pure: no Node APIs.
 */
import { ByteReader } from './byte-reader.js';
import { ArchiveError } from './errors.js';
import type { ArchiveLimits } from './limits.js';
import { resolveLimits } from './limits.js';
import { EntryTracker, safeRelativePath, symlinkStaysInside } from './paths.js';
import { BLOCK, decodeHeader, isAllZero, isZeroBlock, parsePax } from './tar-header.js';

export type TarEntryType = 'file' | 'directory' | 'symlink';

export interface TarEntry {
  /** Normalised relative path (no leading `./`, no trailing `/`). */
  path: string;
  type: TarEntryType;
  /** Permission bits from the archive (only the executable bits matter to us). */
  mode: number;
  size: number;
  mtime: number;
  /** Symlink target, for `symlink`. */
  linkTarget?: string;
  /** The content, for files; must be consumed (or skipped) before the next entry is read. */
  body: AsyncIterable<Uint8Array>;
}

export interface TarReadOptions {
  limits?: Partial<ArchiveLimits>;
  /**
   * Symlinks: `refuse` (default), or `inside` (allowed when the target is relative and stays inside
   * the archive root; nothing may be written through them).
   */
  symlinks?: 'refuse' | 'inside';
}

/** Bytes of padding after `size` bytes of content. */
function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

const MAX_META_BYTES = 1 << 20; // pax/GNU long-name payloads

const EMPTY: AsyncIterable<Uint8Array> = {
  [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true, value: undefined }) }),
};

/**
 * Zero bytes accepted after the first end-of-archive block. tar writes a second zero block and pads
 * to its record size (GNU tar: 10240 bytes by default; 1 MiB is `-b 2048`). More is refused as
 * soon as it is seen, so that a small gzip of zeros costs no more than this to read.
 */
export const MAX_TRAILING_ZERO_BYTES = 1 << 20;

/** After the end-of-archive block: only zero padding, and at most `MAX_TRAILING_ZERO_BYTES`. */
async function checkTrailer(r: ByteReader): Promise<void> {
  let seen = 0;
  for await (const chunk of r.rest()) {
    const room = MAX_TRAILING_ZERO_BYTES - seen;
    if (!isAllZero(chunk.length > room ? chunk.subarray(0, room) : chunk))
      throw new ArchiveError('ARCHIVE_MALFORMED', 'data after the end-of-archive marker');
    seen += chunk.length;
    if (seen > MAX_TRAILING_ZERO_BYTES)
      throw new ArchiveError(
        'ARCHIVE_TOO_LARGE',
        `more than ${MAX_TRAILING_ZERO_BYTES} bytes of padding after the end-of-archive marker ` +
          '(tar pads to a record of 10240 bytes)',
      );
  }
}

/**
 * Reads a tar stream entry by entry. Global pax headers are ignored (git archive writes one with
 * the commit id); GNU `L`/`K` long names and pax `path`/`linkpath`/`size` are honoured.
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  opts: TarReadOptions = {},
): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  try {
    yield* readEntries(r, opts);
  } finally {
    // Refused, or the consumer stopped: the source is not read on. A failure to close it must not
    // hide the refusal.
    await r.close().catch(() => undefined);
  }
}

async function* readEntries(r: ByteReader, opts: TarReadOptions): AsyncGenerator<TarEntry> {
  const limits = resolveLimits(opts.limits);
  const symlinks = opts.symlinks ?? 'refuse';
  const tracker = new EntryTracker();
  let entries = 0;
  let total = 0;
  let pax = new Map<string, string>();
  let gnuName: string | null = null;
  let gnuLink: string | null = null;

  for (;;) {
    const block = r.takeBuffered(BLOCK) ?? (await r.readExact(BLOCK, 'a header'));
    if (block === null)
      throw new ArchiveError(
        'ARCHIVE_MALFORMED',
        'tar archive ends without an end-of-archive marker',
      );
    if (isZeroBlock(block)) {
      await checkTrailer(r);
      return;
    }
    const h = decodeHeader(block);
    const type = h.typeflag;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (h.size > MAX_META_BYTES)
        throw new ArchiveError('ARCHIVE_TOO_LARGE', 'oversized extended header in tar archive');
      const data = (await r.readExact(h.size, 'an extended header')) ?? new Uint8Array(0);
      await r.skip(padding(h.size), 'padding');
      if (type === 'x') pax = parsePax(data);
      else if (type === 'L' || type === 'K') {
        let end = data.indexOf(0);
        if (end < 0) end = data.length;
        const s = new TextDecoder().decode(data.subarray(0, end));
        if (type === 'L') gnuName = s;
        else gnuLink = s;
      }
      continue; // 'g': global header, ignored
    }

    const rawName = pax.get('path') ?? gnuName ?? h.name;
    const linkname = pax.get('linkpath') ?? gnuLink ?? h.linkname;
    let size = h.size;
    const paxSize = pax.get('size');
    if (paxSize !== undefined) {
      if (!/^[0-9]+$/.test(paxSize) || !Number.isSafeInteger(Number(paxSize))) {
        throw new ArchiveError('ARCHIVE_MALFORMED', 'invalid pax size record');
      }
      size = Number(paxSize);
    }
    pax = new Map();
    gnuName = null;
    gnuLink = null;

    let kind: TarEntryType;
    switch (type) {
      case '0':
      case '\0':
      case '7':
        kind = rawName.endsWith('/') ? 'directory' : 'file';
        break;
      case '5':
        kind = 'directory';
        break;
      case '2':
        kind = 'symlink';
        break;
      case '1':
        throw new ArchiveError('ARCHIVE_LINK', `hard link in archive: ${rawName} -> ${linkname}`, {
          path: rawName,
        });
      case '3':
      case '4':
      case '6':
        throw new ArchiveError('ARCHIVE_SPECIAL_FILE', `device or FIFO in archive: ${rawName}`, {
          path: rawName,
        });
      default:
        throw new ArchiveError(
          'ARCHIVE_SPECIAL_FILE',
          `unsupported tar entry type '${type}' for ${rawName}`,
          {
            path: rawName,
          },
        );
    }

    if (kind !== 'file' && size !== 0) {
      // Directories and links carry no data; a non-zero size is a malformed header.
      throw new ArchiveError('ARCHIVE_MALFORMED', `${kind} entry with data: ${rawName}`, {
        path: rawName,
      });
    }
    if (kind === 'directory' && rawName.split('/').every((p) => p === '' || p === '.')) {
      continue; // the archive root itself (`./`), as `tar -C dir .` writes it
    }
    const path = safeRelativePath(rawName, limits);
    if (++entries > limits.maxEntries) {
      throw new ArchiveError(
        'ARCHIVE_TOO_MANY_ENTRIES',
        `archive has more than ${limits.maxEntries} entries`,
      );
    }
    if (kind === 'file') {
      if (size > limits.maxEntryBytes) {
        throw new ArchiveError(
          'ARCHIVE_TOO_LARGE',
          `${path} is ${size} bytes, more than the ${limits.maxEntryBytes} allowed`,
          {
            path,
          },
        );
      }
      total += size;
      if (total > limits.maxTotalBytes) {
        throw new ArchiveError(
          'ARCHIVE_TOO_LARGE',
          `archive content exceeds ${limits.maxTotalBytes} bytes`,
          { path },
        );
      }
    }

    tracker.add(path, kind);

    if (kind === 'symlink') {
      if (symlinks === 'refuse') {
        throw new ArchiveError('ARCHIVE_LINK', `symlink in archive: ${path} -> ${linkname}`, {
          path,
        });
      }
      if (!symlinkStaysInside(path, linkname)) {
        throw new ArchiveError(
          'ARCHIVE_LINK',
          `symlink points outside the archive: ${path} -> ${linkname}`,
          { path },
        );
      }
    }

    const dataSize = kind === 'file' ? size : 0;
    let consumed = false;
    const body: AsyncIterable<Uint8Array> =
      kind === 'file'
        ? {
            [Symbol.asyncIterator]: () => {
              if (consumed) throw new Error('tar entry body read twice');
              consumed = true;
              return r.stream(dataSize, path)[Symbol.asyncIterator]();
            },
          }
        : EMPTY;
    const entry: TarEntry = {
      path,
      type: kind,
      mode: h.mode & 0o7777,
      size: kind === 'file' ? size : 0,
      mtime: h.mtime,
      body,
    };
    if (kind === 'symlink') entry.linkTarget = linkname;
    const before = r.position;
    yield entry;
    // Skip whatever the consumer did not read, then the padding.
    const read = r.position - before;
    if (read < dataSize) await r.skip(dataSize - read, path);
    const pad = padding(dataSize);
    if (r.takeBuffered(pad) === undefined) await r.skip(pad, 'padding');
  }
}
