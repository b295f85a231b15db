/**
 * One git packfile (version 2) and its index (version 2) for the objects of the build's `.git`
 * (git-workspace.ts): one file written instead of one loose object per source file, which on a
 * disk costs more than the whole rest of writing the work tree. Format as in git's
 * Documentation/gitformat-pack.txt: `PACK`, version 2, the object count, then each object as a
 * type-and-size header and its content as a zlib stream of stored blocks (no deltas), then the
 * hash of all of it; the index holds the fan-out table, the sorted object ids, each entry's CRC-32
 * and offset (64-bit offsets past 2 GiB), the pack's hash and its own. SHA-1 or SHA-256 as the
 * repository's object format.
 */
import { createHash } from 'node:crypto';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareBytes } from '../util/bytes.js';
import { crc32 } from '../util/stream-digest.js';

/** Objects read ahead of the one being written (a large file's read overlaps the writes). */
const AHEAD = 4;
/** The pack is written in pieces of about this size (not several writes per object). */
const WRITE_BYTES = 1024 * 1024;

const TYPE_CODE = { commit: 1, tree: 2, blob: 3 } as const;

/** An object to pack: its id (already computed) and a way to get its content. */
export interface PackObject {
  oid: Uint8Array;
  type: keyof typeof TYPE_CODE;
  content: () => Promise<Uint8Array>;
}

/** The type-and-size header of a pack entry. */
function entryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let b = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(b | 0x80);
    b = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(b);
  return Buffer.from(bytes);
}

/** Adler-32 (RFC 1950 §9), the checksum that ends a zlib stream. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 bytes is the most that can be summed before `b` could pass 2^32 (zlib's NMAX).
  for (let i = 0; i < data.length;) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** What of `bufs` is left once its first `n` bytes are written. */
function rest(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (n >= bufs[i]!.length) n -= bufs[i++]!.length;
  return [bufs[i]!.subarray(n), ...bufs.slice(i + 1)];
}

/** Largest stored deflate block (RFC 1951 §3.2.4: LEN is 16 bits). */
const STORED_BLOCK_BYTES = 65535;

/**
 * `data` as a zlib stream of stored (uncompressed) deflate blocks, what git writes with
 * `pack.compression 0`: the pack lives in the enclave's memory and is read once, if at all, by
 * the build's git, so the time of compressing (zlib's set-up alone, per object, was most of
 * writing the pack of a source of 1 595 files) buys nothing. Built by hand, as pieces that point
 * into `data` (nothing is copied until the pieces are written): the 2-byte header, each block's
 * 5-byte header and bytes, the Adler-32.
 */
export function storedZlib(data: Uint8Array): Buffer[] {
  const blocks = storedBlocks(data.length);
  const pieces: Buffer[] = [Buffer.from(ZLIB_HEADER)];
  const whole = Buffer.from(data.buffer, data.byteOffset, data.length);
  for (let k = 0; k < blocks; k++) {
    const start = k * STORED_BLOCK_BYTES;
    const len = Math.min(STORED_BLOCK_BYTES, data.length - start);
    const head = Buffer.allocUnsafe(5);
    writeBlockHead(head, 0, len, k === blocks - 1);
    pieces.push(head, whole.subarray(start, start + len));
  }
  const sum = Buffer.allocUnsafe(4);
  sum.writeUInt32BE(adler32(data), 0);
  pieces.push(sum);
  return pieces;
}

/** CMF 0x78 (deflate, 32 KiB window), FLG 0x01 (no dictionary, level 0; (CMF*256+FLG) % 31 = 0). */
const ZLIB_HEADER = [0x78, 0x01] as const;

/** Stored blocks for `n` bytes (one, empty, for none). */
function storedBlocks(n: number): number {
  return Math.max(1, Math.ceil(n / STORED_BLOCK_BYTES));
}

/** A stored block's 5-byte header: BFINAL on the last, BTYPE 00 (stored), LEN and NLEN. */
function writeBlockHead(out: Buffer, at: number, len: number, last: boolean): void {
  out[at] = last ? 1 : 0;
  out.writeUInt16LE(len, at + 1);
  out.writeUInt16LE(~len & 0xffff, at + 3);
}

/** Bytes of `data` as a stored zlib stream (see `storedZlib`). */
export function storedZlibLength(n: number): number {
  return ZLIB_HEADER.length + 5 * storedBlocks(n) + n + 4;
}

/** Writes `storedZlib(data)` into `out` at `at`, which has room for it; the offset after it. */
export function writeStoredZlib(out: Buffer, at: number, data: Uint8Array): number {
  const blocks = storedBlocks(data.length);
  out.set(ZLIB_HEADER, at);
  at += ZLIB_HEADER.length;
  for (let k = 0; k < blocks; k++) {
    const start = k * STORED_BLOCK_BYTES;
    const len = Math.min(STORED_BLOCK_BYTES, data.length - start);
    writeBlockHead(out, at, len, k === blocks - 1);
    out.set(data.subarray(start, start + len), at + 5);
    at += 5 + len;
  }
  return out.writeUInt32BE(adler32(data), at);
}

/**
 * Writes `objects` (distinct ids) as `<packDir>/pack-<hash>.pack` and `.idx`; returns the hash
 * (hex). `algorithm` is the repository's. Entries are copied whole into a buffer of WRITE_BYTES,
 * so that the pack's hash, each entry's CRC and each write take one call per buffer or entry
 * rather than one per piece (a source tree's thousands of small files); an entry larger than the
 * buffer is written from its pieces.
 */
export async function writePack(
  packDir: string,
  objects: readonly PackObject[],
  algorithm: 'sha1' | 'sha256',
): Promise<string> {
  const partial = join(packDir, `tmp_pack_${process.pid}`);
  const partialIdx = join(packDir, `tmp_idx_${process.pid}`);
  const fh = await open(partial, 'wx', 0o444);
  let closed = false;
  const hash = createHash(algorithm);
  const entries: { oid: Uint8Array; offset: number; crc: number }[] = [];
  /** Bytes written to the file so far; `buf` holds the next `used`. */
  let written = 0;
  const buf = Buffer.allocUnsafe(WRITE_BYTES);
  let used = 0;
  /** Writes `bufs` whole (hashed already), gathered rather than copied together. */
  const write = async (bufs: Buffer[]): Promise<void> => {
    let left = bufs.reduce((n, b) => n + b.length, 0);
    written += left;
    while (left > 0) {
      const { bytesWritten } = await fh.writev(bufs);
      left -= bytesWritten;
      if (left > 0) bufs = rest(bufs, bytesWritten);
    }
  };
  // The buffer is reused once its write has ended.
  const flush = async (): Promise<void> => {
    if (used === 0) return;
    const b = buf.subarray(0, used);
    hash.update(b);
    used = 0;
    await write([b]);
  };
  try {
    buf.write('PACK', 0, 'latin1');
    buf.writeUInt32BE(2, 4);
    buf.writeUInt32BE(objects.length, 8);
    used = 12;
    const prepared: Promise<Uint8Array>[] = [];
    const prepare = (o: PackObject): Promise<Uint8Array> => {
      const p = o.content();
      // Awaited in order later; a failure meanwhile must not be an unhandled rejection.
      p.catch(() => undefined);
      return p;
    };
    for (let i = 0; i < Math.min(AHEAD, objects.length); i++) prepared.push(prepare(objects[i]!));
    for (let i = 0; i < objects.length; i++) {
      const content = await prepared[i]!;
      prepared[i] = undefined as never;
      const next = i + AHEAD;
      if (next < objects.length) prepared.push(prepare(objects[next]!));
      const header = entryHeader(TYPE_CODE[objects[i]!.type], content.length);
      const length = header.length + storedZlibLength(content.length);
      if (used + length > WRITE_BYTES) await flush();
      const offset = written + used;
      let crc: number;
      if (length <= WRITE_BYTES) {
        const start = used;
        header.copy(buf, used);
        used = writeStoredZlib(buf, used + header.length, content);
        crc = crc32(buf.subarray(start, used));
      } else {
        const pieces = [header, ...storedZlib(content)];
        crc = 0;
        for (const b of pieces) {
          crc = crc32(b, crc);
          hash.update(b);
        }
        await write(pieces);
      }
      entries.push({ oid: objects[i]!.oid, offset, crc });
    }
    await flush();
    const packHash = hash.digest();
    await write([packHash]);
    closed = true;
    await fh.close();
    const name = `pack-${packHash.toString('hex')}`;
    // As git publishes a pack: the pack first, then its index, which makes it visible.
    await rename(partial, join(packDir, `${name}.pack`));
    await writeFile(partialIdx, packIndex(entries, packHash, algorithm), { mode: 0o444 });
    await rename(partialIdx, join(packDir, `${name}.idx`));
    return packHash.toString('hex');
  } catch (e) {
    if (!closed) await fh.close().catch(() => undefined);
    await rm(partial, { force: true });
    await rm(partialIdx, { force: true });
    throw e;
  }
}

/** The version 2 index of a pack's entries. */
function packIndex(
  entries: { oid: Uint8Array; offset: number; crc: number }[],
  packHash: Buffer,
  algorithm: 'sha1' | 'sha256',
): Buffer {
  const sorted = [...entries].sort((a, b) => compareBytes(a.oid, b.oid));
  const n = sorted.length;
  const fanout = Buffer.alloc(256 * 4);
  const counts = new Uint32Array(256);
  for (const e of sorted) counts[e.oid[0]!]!++;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += counts[i]!;
    fanout.writeUInt32BE(total, i * 4);
  }
  const crcs = Buffer.alloc(n * 4);
  const small = Buffer.alloc(n * 4);
  const large: Buffer[] = [];
  sorted.forEach((e, i) => {
    crcs.writeUInt32BE(e.crc >>> 0, i * 4);
    if (e.offset < 0x80000000) small.writeUInt32BE(e.offset, i * 4);
    else {
      small.writeUInt32BE((0x80000000 | large.length) >>> 0, i * 4);
      const l = Buffer.alloc(8);
      l.writeBigUInt64BE(BigInt(e.offset));
      large.push(l);
    }
  });
  const body = Buffer.concat([
    Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]),
    fanout,
    ...sorted.map((e) => Buffer.from(e.oid)),
    crcs,
    small,
    ...large,
    packHash,
  ]);
  return Buffer.concat([body, createHash(algorithm).update(body).digest()]);
}
