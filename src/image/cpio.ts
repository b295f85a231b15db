/**
 * Deterministic cpio "newc" archives (the format the Linux kernel unpacks as an initramfs,
 * Documentation/driver-api/early-userspace/buffer-format.rst), written and read by our own code.
 *
 * Why our own: a ramdisk is measured byte for byte into PCR1/PCR2, so every header field must be
 * fixed by us, not by a library's defaults: members sorted by path bytes, mtime fixed (the
 * recipe's SOURCE_DATE_EPOCH), inode numbers assigned 1, 2, … in that order, device numbers of the
 * archive 0, one link per member (hard links are written as separate files), no check field. The
 * npm cpio libraries either read only or copy fields from the file system. The reader accepts
 * only what this writer emits (strict: bounded sizes, no trailing bytes after the trailer padding),
 * since it reads published images when `image reproduce` compares ramdisks.
 */
import { ImageError } from './errors.js';

/** Largest member name read back (bytes, with its NUL). */
export const MAX_CPIO_NAME = 4096;
/** Largest number of members read back from one archive. */
export const MAX_CPIO_MEMBERS = 1_000_000;

const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** One member to write. `data` is the file's bytes (or a function reading them), or a symlink's target. */
export interface CpioMember {
  /** Path inside the archive, relative, '/'-separated, no leading './' or '/'. */
  path: string;
  /** Full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  data?: Uint8Array | (() => Promise<Uint8Array>);
  /** For character and block devices. */
  rdevMajor?: number;
  rdevMinor?: number;
}

const enc = new TextEncoder();
const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

function header(fields: number[], nameSize: number): Uint8Array {
  return enc.encode(MAGIC + fields.map(hex8).join('') + hex8(nameSize) + hex8(0));
}

function checkPath(p: string): void {
  if (
    p === '' ||
    p.startsWith('/') ||
    p.split('/').some((s) => s === '' || s === '.' || s === '..') ||
    p.includes('\0')
  )
    throw new ImageError('PATH_UNSAFE', `ramdisk member path ${JSON.stringify(p)} is not relative`);
}

/** Byte order of UTF-8 paths (what `sort` in the C locale gives). */
export function comparePaths(a: string, b: string): number {
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/**
 * Yields the archive of `members`: sorted by path, fixed `mtime`, inodes 1…n, then the trailer,
 * padded to a multiple of 512 bytes as GNU cpio does. Duplicate paths are refused.
 */
export async function* cpioChunks(
  members: readonly CpioMember[],
  mtime: number,
): AsyncGenerator<Uint8Array> {
  const sorted = [...members].sort((a, b) => comparePaths(a.path, b.path));
  let total = 0;
  const emit = function* (b: Uint8Array): Generator<Uint8Array> {
    total += b.length;
    yield b;
  };
  let ino = 0;
  for (let i = 0; i < sorted.length; i++) {
    const m = sorted[i]!;
    checkPath(m.path);
    if (i > 0 && sorted[i - 1]!.path === m.path)
      throw new ImageError('PATH_UNSAFE', `ramdisk member ${m.path} is given twice`);
    const name = enc.encode(m.path + '\0');
    const data =
      m.data === undefined
        ? new Uint8Array(0)
        : m.data instanceof Uint8Array
          ? m.data
          : await m.data();
    const type = m.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFLNK && data.length > 0)
      throw new TypeError(`member ${m.path}: only files and symlinks carry data`);
    const h = header(
      [
        ++ino,
        m.mode,
        m.uid,
        m.gid,
        type === S_IFDIR ? 2 : 1,
        mtime,
        data.length,
        0,
        0,
        m.rdevMajor ?? 0,
        m.rdevMinor ?? 0,
      ],
      name.length,
    );
    yield* emit(h);
    yield* emit(name);
    yield* emit(new Uint8Array(pad4(HEADER_SIZE + name.length)));
    if (data.length > 0) {
      yield* emit(data);
      yield* emit(new Uint8Array(pad4(data.length)));
    }
  }
  const name = enc.encode(TRAILER + '\0');
  yield* emit(header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], name.length));
  yield* emit(name);
  yield* emit(new Uint8Array(pad4(HEADER_SIZE + name.length)));
  yield* emit(new Uint8Array((512 - (total % 512)) % 512));
}

/** The whole archive in memory. */
export async function writeCpio(
  members: readonly CpioMember[],
  mtime: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of cpioChunks(members, mtime)) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A member read back: its header fields and where its data lies in the archive. */
export interface CpioEntry {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

function bad(msg: string, at: number): ImageError {
  return new ImageError('CPIO_INVALID', `ramdisk is not a newc cpio archive: ${msg}`, {
    path: `offset ${at}`,
  });
}

/** Reads a newc archive (untrusted: a published ramdisk). Throws `CPIO_INVALID`. */
export function readCpio(bytes: Uint8Array): CpioEntry[] {
  const dec = new TextDecoder('utf-8', { fatal: true });
  const out: CpioEntry[] = [];
  let at = 0;
  for (;;) {
    if (at + HEADER_SIZE > bytes.length) throw bad('truncated header', at);
    const h = dec.decode(bytes.subarray(at, at + HEADER_SIZE));
    if (h.slice(0, 6) !== MAGIC) throw bad('bad magic', at);
    const f: number[] = [];
    for (let i = 0; i < 13; i++) {
      const s = h.slice(6 + i * 8, 14 + i * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(s)) throw bad('bad header field', at);
      f.push(parseInt(s, 16));
    }
    const [, mode, uid, gid, , mtime, size, , , rmaj, rmin, nameSize] = f as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    if (nameSize < 2 || nameSize > MAX_CPIO_NAME) throw bad('bad name size', at);
    const nameAt = at + HEADER_SIZE;
    if (nameAt + nameSize > bytes.length) throw bad('truncated name', at);
    if (bytes[nameAt + nameSize - 1] !== 0) throw bad('name not NUL-terminated', at);
    let name: string;
    try {
      name = dec.decode(bytes.subarray(nameAt, nameAt + nameSize - 1));
    } catch {
      throw bad('name not UTF-8', at);
    }
    const dataAt = nameAt + nameSize + pad4(HEADER_SIZE + nameSize);
    if (name === TRAILER) {
      const end = dataAt;
      if (end > bytes.length || bytes.subarray(end).some((b) => b !== 0))
        throw bad('bytes after the trailer', end);
      return out;
    }
    if (dataAt + size > bytes.length) throw bad('truncated data', at);
    if (out.length >= MAX_CPIO_MEMBERS) throw bad('too many members', at);
    out.push({
      path: name,
      mode,
      uid,
      gid,
      mtime,
      rdevMajor: rmaj,
      rdevMinor: rmin,
      data: bytes.subarray(dataAt, dataAt + size),
    });
    at = dataAt + size + pad4(size);
  }
}
