/**
 * Git tree ids recomputed from files on disk, without git (what the worker runs on the source it
 * unpacked): blobs are `blob <size>\0<content>`, trees are `<mode> <name>\0<oid>` entries in
 * git's order (git-object.ts), hashed with SHA-1 or SHA-256 (node:crypto, OpenSSL). Modes are
 * 100644, 100755 (owner-executable files, as git's `ce_permissions` decides), 120000 (symlinks,
 * whose blob is the target's bytes) and 40000 (directories); names are raw bytes. Directories
 * without any file are left out, as git cannot record them; `.git` entries are never part of a
 * tree. Node only.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readlink, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { provenanceError } from './errors.js';
import { encodeTree } from './git-object.js';
import type { TreeEntry } from './git-object.js';
import type { ObjectFormat } from './types.js';

/** Files up to this size are read with one call; larger ones are streamed in chunks of it. */
const SMALL_FILE_BYTES = 4 * 1024 * 1024;
const CHUNK_BYTES = 4 * 1024 * 1024;
/** Default number of files open at once. */
export const DEFAULT_TREE_HASH_CONCURRENCY = 16;

const SLASH = Buffer.from('/');
const DOT_GIT = Buffer.from('.git');

export interface TreeHashOptions {
  /** Files read at once (default 16). */
  concurrency?: number;
  /** Leave out these paths (relative, `/`-separated, UTF-8 decoded) and, for directories, what is below. */
  exclude?: (relPath: string, isDirectory: boolean) => boolean;
}

/** A counting semaphore. */
class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

function changed(path: Buffer): never {
  const p = path.toString('utf8');
  throw provenanceError('SOURCE_UNSUPPORTED_ENTRY', `${p} changed while it was being hashed`, p);
}

async function readSmall(fh: FileHandle, size: number, path: Buffer): Promise<Buffer> {
  // One byte of room beyond the size tells a file that grew after fstat from one that did not;
  // a read shorter than asked that reaches the size is the end of a regular file.
  const buf = Buffer.allocUnsafe(size + 1);
  let off = 0;
  for (;;) {
    const want = buf.length - off;
    const { bytesRead } = await fh.read(buf, off, want, off);
    off += bytesRead;
    if (bytesRead === 0 || off > size || (off === size && bytesRead < want)) break;
  }
  if (off !== size) changed(path);
  return buf.subarray(0, size);
}

async function hashLarge(
  fh: FileHandle,
  size: number,
  path: Buffer,
  h: ReturnType<typeof createHash>,
): Promise<void> {
  // Double buffering: the next chunk is read while the current one is hashed.
  let bufs = [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)];
  let pos = 0;
  let pending = fh.read(bufs[0]!, 0, CHUNK_BYTES, 0);
  for (;;) {
    const { bytesRead } = await pending;
    if (bytesRead === 0) break;
    const cur = bufs[0]!;
    pos += bytesRead;
    if (pos > size) changed(path);
    bufs = [bufs[1]!, cur];
    pending = fh.read(bufs[0]!, 0, CHUNK_BYTES, pos);
    h.update(cur.subarray(0, bytesRead));
  }
  if (pos !== size) changed(path);
}

async function hashFile(
  path: Buffer,
  algorithm: string,
): Promise<{ oid: Buffer; executable: boolean }> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const h = createHash(algorithm);
    h.update(`blob ${st.size}\0`);
    if (st.size <= SMALL_FILE_BYTES) h.update(await readSmall(fh, st.size, path));
    else await hashLarge(fh, st.size, path, h);
    return { oid: h.digest(), executable: (st.mode & 0o100) !== 0 };
  } finally {
    await fh.close();
  }
}

function hashBytes(type: 'blob' | 'tree', content: Uint8Array, algorithm: string): Buffer {
  return createHash(algorithm).update(`${type} ${content.length}\0`).update(content).digest();
}

/**
 * The git tree id (hex) of the files under `dir`, computed without git: equal to what
 * `git add -A && git write-tree` gives for the same files in a repository of that object format.
 * Refuses special files (sockets, FIFOs, devices) with SOURCE_UNSUPPORTED_ENTRY.
 */
export async function computeTreeId(
  dir: string,
  format: ObjectFormat,
  opts: TreeHashOptions = {},
): Promise<string> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw new TypeError(`computeTreeId: ${dir} is not a directory`);
  const algorithm = format === 'sha1' ? 'sha1' : 'sha256';
  const limiter = new Limiter(opts.concurrency ?? DEFAULT_TREE_HASH_CONCURRENCY);
  const exclude = opts.exclude;

  async function hashDir(abs: Buffer, rel: string, isRoot: boolean): Promise<Buffer | null> {
    const dirents = await limiter.run(() =>
      readdir(abs, { withFileTypes: true, encoding: 'buffer' }),
    );
    const entries = await Promise.all(
      dirents.map(async (d): Promise<TreeEntry | null> => {
        const name = d.name;
        if (name.equals(DOT_GIT)) return null;
        const childAbs = Buffer.concat([abs, SLASH, name]);
        let childRel = '';
        if (exclude !== undefined) {
          childRel = rel === '' ? name.toString('utf8') : `${rel}/${name.toString('utf8')}`;
          if (exclude(childRel, d.isDirectory())) return null;
        }
        if (d.isDirectory()) {
          const oid = await hashDir(childAbs, childRel, false);
          return oid === null ? null : { mode: '40000', name, oid };
        }
        if (d.isSymbolicLink()) {
          const target = await limiter.run(() => readlink(childAbs, { encoding: 'buffer' }));
          return { mode: '120000', name, oid: hashBytes('blob', target, algorithm) };
        }
        if (d.isFile()) {
          const { oid, executable } = await limiter.run(() => hashFile(childAbs, algorithm));
          return { mode: executable ? '100755' : '100644', name, oid };
        }
        const p = childAbs.toString('utf8');
        throw provenanceError(
          'SOURCE_UNSUPPORTED_ENTRY',
          `${p} is not a regular file, directory or symlink; git cannot record it`,
          p,
        );
      }),
    );
    const present = entries.filter((e): e is TreeEntry => e !== null);
    if (present.length === 0 && !isRoot) return null; // git records no empty directory
    return hashBytes('tree', encodeTree(present), algorithm);
  }

  const root = (await hashDir(Buffer.from(dir), '', true))!;
  return root.toString('hex');
}
