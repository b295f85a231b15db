/**
 * Deterministic tar writer: entries in the order given, uid/gid 0, empty owner names, a fixed
 * mtime, normalised modes (0644/0755 files, 0755 directories, 0777 symlinks). Long names and large
 * sizes go into pax records. The same entries always give the same bytes. Pure: no Node APIs.
 */
import { BLOCK, MAX_OCTAL_SIZE, encodeHeader, encodePax, utf8Length } from './tar-header.js';

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
  return utf8Length(s) <= 100 && /^[\x20-\x7e]*$/.test(s);
}

/** Yields the tar stream of the given entries, ending with the two-block end-of-archive marker. */
export async function* writeTar(
  entries: Iterable<TarInputEntry> | AsyncIterable<TarInputEntry>,
  opts: TarWriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const mtime = opts.mtime ?? 0;
  for await (const e of entries) {
    const name = e.type === 'directory' ? `${e.path}/` : e.path;
    const size =
      e.type === 'file' ? (e.size ?? (e.content instanceof Uint8Array ? e.content.length : -1)) : 0;
    if (size < 0) throw new TypeError(`tar entry ${e.path}: size is required for streamed content`);
    const link = e.linkTarget ?? '';
    const pax: [string, string][] = [];
    if (!fitsUstar(name)) pax.push(['path', name]);
    if (e.type === 'symlink' && !fitsUstar(link)) pax.push(['linkpath', link]);
    if (size > MAX_OCTAL_SIZE) pax.push(['size', String(size)]);
    if (pax.length > 0) {
      const data = encodePax(pax);
      yield encodeHeader({
        name: '././@PaxHeader',
        mode: 0o644,
        size: data.length,
        mtime,
        typeflag: 'x',
      });
      yield data;
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) yield ZERO.subarray(0, pad);
    }
    const mode =
      e.type === 'directory' ? 0o755 : e.type === 'symlink' ? 0o777 : e.executable ? 0o755 : 0o644;
    const typeflag = e.type === 'directory' ? '5' : e.type === 'symlink' ? '2' : '0';
    yield encodeHeader({
      name: fitsUstar(name) ? name : name.slice(0, 99).replace(/[^\x20-\x7e]/g, '_'),
      mode,
      size: size > MAX_OCTAL_SIZE ? 0 : size,
      mtime,
      typeflag,
      linkname: e.type === 'symlink' && fitsUstar(link) ? link : '',
    });
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
