/**
 * Deterministic tar writer: entries in the order given, uid/gid 0, empty owner names, a fixed
 * mtime, normalised modes (0644/0755 files, 0755 directories, 0777 symlinks). Long names and large
 * sizes go into pax records. The same entries always give the same bytes. Pure: no Node APIs.
 */
import { concatBytes } from '../util/bytes.js';
import { BLOCK, MAX_OCTAL_SIZE, encodeHeader, encodePax } from './tar-header.js';

export interface TarInputEntry {
  /** Relative POSIX path, no leading `/`, no `..`. Directories without a trailing `/`. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** For files: whether any executable bit is set (mode 0755 instead of 0644). */
  executable?: boolean;
  /** For files: the size in bytes, which `content` must match exactly. */
  size?: number;
  /** For files: the bytes, or a stream of them. */
  content?: Uint8Array | AsyncIterable<Uint8Array>;
  /** For symlinks: the target. */
  linkTarget?: string;
}

export interface TarWriteOptions {
  /** mtime written in every header, seconds since the epoch (default 0). */
  mtime?: number;
}

const ZERO = new Uint8Array(BLOCK);

function fitsUstar(s: string): boolean {
  // Printable ASCII only, so its length in characters is its length in bytes.
  return s.length <= 100 && /^[\x20-\x7e]*$/.test(s);
}

function roundUp(n: number): number {
  return n + ((BLOCK - (n % BLOCK)) % BLOCK);
}

function entryName(e: Pick<TarInputEntry, 'path' | 'type'>): string {
  return e.type === 'directory' ? `${e.path}/` : e.path;
}

/** The pax records an entry's header needs: none when the ustar fields hold it all. */
function paxRecords(
  e: Pick<TarInputEntry, 'path' | 'type' | 'linkTarget'>,
  size: number,
): [string, string][] {
  const name = entryName(e);
  const link = e.linkTarget ?? '';
  const pax: [string, string][] = [];
  if (!fitsUstar(name)) pax.push(['path', name]);
  if (e.type === 'symlink' && !fitsUstar(link)) pax.push(['linkpath', link]);
  if (size > MAX_OCTAL_SIZE) pax.push(['size', String(size)]);
  return pax;
}

/**
 * The header blocks the writer puts before an entry's data: a pax extended header (`x`) with
 * `path`, `linkpath` and `size` records where the ustar fields cannot hold them, then the ustar
 * header. The one definition of a header's bytes: the writer uses it, and the bundle reader
 * compares what it reads with it (a bundle is exactly what this writer emits).
 */
export function encodeEntryHead(
  e: Pick<TarInputEntry, 'path' | 'type' | 'executable' | 'linkTarget'>,
  size: number,
  mtime: number,
): Uint8Array[] {
  const name = entryName(e);
  const link = e.linkTarget ?? '';
  const pax = paxRecords(e, size);
  const out: Uint8Array[] = [];
  if (pax.length > 0) {
    const data = encodePax(pax);
    out.push(
      encodeHeader({
        name: '././@PaxHeader',
        mode: 0o644,
        size: data.length,
        mtime,
        typeflag: 'x',
      }),
    );
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    out.push(pad ? concatBytes([data, ZERO.subarray(0, pad)]) : data);
  }
  const mode =
    e.type === 'directory' ? 0o755 : e.type === 'symlink' ? 0o777 : e.executable ? 0o755 : 0o644;
  const typeflag = e.type === 'directory' ? '5' : e.type === 'symlink' ? '2' : '0';
  out.push(
    encodeHeader({
      name: fitsUstar(name) ? name : name.slice(0, 99).replace(/[^\x20-\x7e]/g, '_'),
      mode,
      size: size > MAX_OCTAL_SIZE ? 0 : size,
      mtime,
      typeflag,
      linkname: e.type === 'symlink' && fitsUstar(link) ? link : '',
    }),
  );
  return out;
}

/**
 * The length of the tar stream `writeTar` yields for these entries (each file of `size` bytes):
 * known before any content is read, so a stream can be announced and then sent as it is made.
 */
export function tarSize(
  entries: Iterable<Pick<TarInputEntry, 'path' | 'type' | 'executable' | 'linkTarget' | 'size'>>,
): number {
  let n = 2 * BLOCK;
  for (const e of entries) {
    const size = e.type === 'file' ? (e.size ?? -1) : 0;
    if (size < 0) throw new TypeError(`tar entry ${e.path}: size is required`);
    // The ustar header, after a pax header and its records (padded) where `encodeEntryHead`
    // writes them.
    const pax = paxRecords(e, size);
    n += BLOCK;
    if (pax.length > 0) n += BLOCK + roundUp(encodePax(pax).length);
    n += roundUp(size);
  }
  return n;
}

/** Yields the tar stream of the given entries, ending with the two-block end-of-archive marker. */
export async function* writeTar(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
  opts: TarWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const mtime = opts.mtime ?? 0;
  for await (const e of entries) {
    const size =
      e.type === 'file' ? (e.size ?? (e.content instanceof Uint8Array ? e.content.length : -1)) : 0;
    if (size < 0) throw new TypeError(`tar entry ${e.path}: size is required for streamed content`);
    yield* encodeEntryHead(e, size, mtime);
    if (e.type !== 'file') continue;
    let written = 0;
    if (e.content instanceof Uint8Array) {
      written = e.content.length;
      if (written) yield e.content;
    } else if (e.content !== undefined) {
      for await (const c of e.content) {
        written += c.length;
        if (written > size)
          throw new Error(`tar entry ${e.path}: content longer than its declared size ${size}`);
        yield c;
      }
    }
    if (written !== size)
      throw new Error(`tar entry ${e.path}: content is ${written} bytes, declared ${size}`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) yield ZERO.subarray(0, pad);
  }
  yield ZERO;
  yield ZERO;
}
