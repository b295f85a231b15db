/**
 * File helpers for dependency sets: walking without following links, hashing while copying.
 *
 * Listing, moving and writing small files use synchronous calls: the dependency check is the only
 * work of the worker's process while it runs, on a memory file system, where a synchronous call
 * costs microseconds and an asynchronous one a round trip through the thread pool (a 253-package
 * npm set: thousands of calls).
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { provenanceError } from '../errors.js';

/** True when something exists at `p` (following links). */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** What a directory tree holds, by relative `/`-separated path (links are not followed). */
export interface TreeListing {
  files: string[];
  dirs: string[];
  /** Symlinks, sockets, FIFOs, devices: never part of a dependency set. */
  others: string[];
}

/** Lists a directory tree. A missing root lists as empty. */
export async function listTree(root: string): Promise<TreeListing> {
  const out: TreeListing = { files: [], dirs: [], others: [] };
  function walk(rel: string): void {
    let entries;
    try {
      entries = readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true });
    } catch (err) {
      if (rel === '' && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.dirs.push(r);
        walk(r);
      } else if (e.isFile()) out.files.push(r);
      else out.others.push(r);
    }
  }
  walk('');
  return out;
}

/** Hash algorithms by node:crypto name. */
export type NodeHash = 'sha512' | 'sha384' | 'sha256' | 'sha1';

/**
 * Reads `input` to its end, hashing every byte and handing each piece to `each` (the copy's
 * writer); over `maxBytes`: DEPENDENCY_MALFORMED naming `src`.
 */
async function readHashing(
  input: FileHandle,
  src: string,
  algorithms: readonly NodeHash[],
  maxBytes: number,
  each?: (chunk: Buffer) => Promise<void>,
): Promise<{ digests: Map<NodeHash, Buffer>; size: number }> {
  const hashes = algorithms.map((a) => createHash(a));
  const buf = Buffer.allocUnsafe(1 << 20);
  let size = 0;
  for (;;) {
    const { bytesRead } = await input.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    size += bytesRead;
    if (size > maxBytes)
      throw provenanceError('DEPENDENCY_MALFORMED', `${src} is larger than ${maxBytes} bytes`);
    const chunk = buf.subarray(0, bytesRead);
    for (const h of hashes) h.update(chunk);
    if (each) await each(chunk);
  }
  const digests = new Map<NodeHash, Buffer>();
  algorithms.forEach((a, i) => digests.set(a, hashes[i]!.digest()));
  return { digests, size };
}

/**
 * Copies `src` to `dest` (created, must not exist) while hashing the bytes copied; the source is
 * opened without following a symlink. Returns the digests and the size. Over `maxBytes` the copy
 * stops with DEPENDENCY_MALFORMED.
 */
export async function copyHashing(
  src: string,
  dest: string,
  algorithms: readonly NodeHash[],
  maxBytes: number,
): Promise<{ digests: Map<NodeHash, Buffer>; size: number }> {
  await mkdir(dirname(dest), { recursive: true });
  const input = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const output = await open(
      dest,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
      0o644,
    );
    try {
      return await readHashing(input, src, algorithms, maxBytes, async (chunk) => {
        let off = 0;
        while (off < chunk.length)
          off += (await output.write(chunk, off, chunk.length - off)).bytesWritten;
      });
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * Moves `src` to `dest` (created, must not exist) after hashing it in one read: for a dependency
 * set that is used once (the worker's), where a copy would write every byte a second time. The
 * source is opened without following a symlink and must be a regular file with no other link;
 * the file that arrives at `dest` must be the very one hashed (same device and inode), else
 * DEPENDENCY_MALFORMED. Over `maxBytes`: DEPENDENCY_MALFORMED, nothing moved.
 */
export async function moveHashing(
  src: string,
  dest: string,
  algorithms: readonly NodeHash[],
  maxBytes: number,
): Promise<{ digests: Map<NodeHash, Buffer>; size: number }> {
  mkdirSync(dirname(dest), { recursive: true });
  const fd = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1)
      throw provenanceError('DEPENDENCY_MALFORMED', `${src} is not a regular file of its own`);
    if (st.size > maxBytes)
      throw provenanceError('DEPENDENCY_MALFORMED', `${src} is larger than ${maxBytes} bytes`);
    const hashes = algorithms.map((a) => createHash(a));
    const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size, 1), 1 << 20));
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      size += n;
      if (size > maxBytes)
        throw provenanceError('DEPENDENCY_MALFORMED', `${src} is larger than ${maxBytes} bytes`);
      for (const h of hashes) h.update(buf.subarray(0, n));
    }
    // link() refuses an existing `dest`, as the copy's O_EXCL does.
    linkSync(src, dest);
    const moved = lstatSync(dest);
    if (moved.ino !== st.ino || moved.dev !== st.dev) {
      unlinkSync(dest);
      throw provenanceError('DEPENDENCY_MALFORMED', `${src} changed while it was checked`);
    }
    unlinkSync(src);
    const digests = new Map<NodeHash, Buffer>();
    algorithms.forEach((a, i) => digests.set(a, hashes[i]!.digest()));
    return { digests, size };
  } finally {
    closeSync(fd);
  }
}

/** `moveHashing` when the set is the caller's to consume, else `copyHashing`. */
export function takeHashing(
  consume: boolean,
  ...args: Parameters<typeof copyHashing>
): ReturnType<typeof copyHashing> {
  return consume ? moveHashing(...args) : copyHashing(...args);
}

/** Writes a new file (must not exist), creating parent directories. */
export async function writeNewFile(path: string, data: string | Uint8Array): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data, { flag: 'wx', mode: 0o644 });
}

/** Creates `dir`, which must not exist or be empty. */
export async function freshDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const existing = await readdir(dir);
  if (existing.length > 0) throw new TypeError(`${dir} must be empty`);
}
