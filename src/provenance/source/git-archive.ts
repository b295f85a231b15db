/**
 * The committed tree of a checkout as a deterministic tar archive: the same commit gives the same
 * bytes on any machine and git version. Entries come from `git ls-tree -r -l -z` (sorted bytewise
 * by path), content from one `git cat-file --batch` process; files are 0644 or 0755, symlinks stay
 * symlinks, mtime 0, no directory entries, no global pax header (src/archive's `writeTar`).
 *
 * With `worktree`, a file of the work tree whose bytes hash to the entry's blob id is taken from
 * there instead (git would inflate it from its object store, a few times slower): the blob id
 * decides, so a changed file, a checkout filter or line-ending conversion, a file swapped for a
 * link, all come from git as committed.
 *
 * The listing gives every blob's size, so the archive's length is known before any file is read
 * (`gitTreeArchive`): it is announced, then made as it is sent, a group of files at a time (read
 * and checked from the work tree, the others asked of git), rather than written to a file first.
 * Everything that can refuse a tree (a submodule, a name or link target the archive cannot hold)
 * is checked from the listing, before the first byte. Node only.
 */
import * as crypto from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { symlinkStaysInside, tarSize, writeTar } from '../../archive/index.js';
import type { TarInputEntry } from '../../archive/index.js';
import { inPieces, writeTarFile } from '../../archive/node.js';
import type { WriteResult } from '../../archive/node.js';
import { compareBytes, decodeUtf8 } from '../../util/encoding.js';
import { provenanceError } from '../errors.js';
import { BlobReader } from './git-batch.js';
import { listTree, refuseSubmodules } from './git.js';
import type { GitOptions } from './git.js';

/** One blob of the tree as `git ls-tree -l` lists it. */
interface LsTreeEntry {
  mode: string;
  oid: string;
  /** The blob's size; undefined for a gitlink, or in a listing made without `-l`. */
  size: number | undefined;
  /** Path bytes. */
  path: Buffer;
}

const LS_TREE_HEAD = /^([0-7]{6}) [a-z]+ ([0-9a-f]+)(?: +(-|[0-9]+))?$/;

function parseLsTree(out: Buffer): LsTreeEntry[] {
  const entries: LsTreeEntry[] = [];
  let start = 0;
  for (let end = out.indexOf(0); end >= 0; end = out.indexOf(0, start)) {
    const rec = out.subarray(start, end);
    start = end + 1;
    const tab = rec.indexOf(9);
    const m = LS_TREE_HEAD.exec(rec.subarray(0, tab).toString('latin1'));
    if (tab < 0 || m === null)
      throw provenanceError(
        'GIT_FAILED',
        `git ls-tree: unexpected line ${JSON.stringify(rec.subarray(0, 100).toString('latin1'))}`,
      );
    const size = m[3] === undefined || m[3] === '-' ? undefined : Number(m[3]);
    entries.push({ mode: m[1]!, oid: m[2]!, size, path: rec.subarray(tab + 1) });
  }
  return entries;
}

export interface TreeArchiveOptions extends GitOptions {
  /**
   * The commit's `git ls-tree -r -l -z --full-tree` output, when already read
   * (`readGitCheckout`). A listing without sizes is read again with them.
   */
  listing?: Buffer;
  /**
   * The repository's work tree (its top folder): files there that hash to their blob id are read
   * from it rather than from git (see the module comment).
   */
  worktree?: string;
}

/** Largest work-tree file read in place of git's object (bigger ones stream from git). */
const MAX_WORKTREE_FILE_BYTES = 16 * 1024 * 1024;
/** Files made at a time: read from the work tree, the rest asked of git in one request. */
const GROUP_FILES = 256;
/** Bytes made at a time (a group ends at the file that reaches it). */
const GROUP_BYTES = 8 * 1024 * 1024;

/** The tree as it will be archived: sorted, every refusal already made, every size known. */
interface ListedTree {
  ls: (LsTreeEntry & { size: number })[];
  paths: string[];
  /** Symlink targets, by index: read before anything is sent, since a header holds them. */
  links: Map<number, string>;
}

const nodeCrypto: { hash?: (algorithm: string, data: Uint8Array) => string } = crypto;

/** The hex object id of `data`, whose first bytes are the object header (one call where Node has it). */
function objectId(algorithm: string, data: Uint8Array): string {
  return nodeCrypto.hash !== undefined
    ? nodeCrypto.hash(algorithm, data)
    : crypto.createHash(algorithm).update(data).digest('hex');
}

/** A regular file, opened without following a final link (ELOOP) nor waiting on a FIFO. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The work-tree copy of entry `e` under `top` when it hashes to the blob id, else undefined.
 * Anything else (absent, changed, another kind, too large, unreadable) is left to git.
 */
function fromWorktree(top: string, e: LsTreeEntry & { size: number }): Buffer | undefined {
  if (e.size > MAX_WORKTREE_FILE_BYTES) return undefined;
  const file = join(top, e.path.toString('utf8'));
  const algorithm = e.oid.length === 64 ? 'sha256' : 'sha1';
  const head = `blob ${e.size}\0`;
  // Synchronous calls: a trip through the thread pool per file costs more than reading it
  // (thousands of small files are the common case), and nothing else waits meanwhile.
  if (e.mode === '120000') {
    let target: Buffer;
    try {
      if (!lstatSync(file).isSymbolicLink()) return undefined;
      target = readlinkSync(file, { encoding: 'buffer' });
    } catch {
      return undefined;
    }
    const oid = objectId(algorithm, Buffer.concat([Buffer.from(head, 'latin1'), target]));
    return oid === e.oid ? target : undefined;
  }
  // Read after the object header, to one byte past the blob's size: a folder fails to read, a
  // longer or shorter file is another size, and a link or FIFO is not opened or reads nothing.
  const buf = Buffer.allocUnsafe(head.length + e.size + 1);
  buf.write(head, 0, 'latin1');
  let n = 0;
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch {
    return undefined;
  }
  try {
    for (;;) {
      const r = readSync(fd, buf, head.length + n, e.size + 1 - n, null);
      n += r;
      if (r === 0 || n > e.size) break;
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  if (n !== e.size || objectId(algorithm, buf.subarray(0, head.length + n)) !== e.oid)
    return undefined;
  return buf.subarray(head.length, head.length + n);
}

function unsupported(path: string, why: string): never {
  throw provenanceError('SOURCE_UNSUPPORTED_ENTRY', `${path}: ${why}`, path);
}

/** A symlink's target as the archive may hold it: UTF-8, and inside the tree. */
function linkTarget(path: string, bytes: Uint8Array): string {
  const target = decodeUtf8(bytes);
  if (target === null) unsupported(path, 'symlink target is not valid UTF-8');
  if (!symlinkStaysInside(path, target)) {
    unsupported(
      path,
      `symlink to ${JSON.stringify(target)} points outside the source tree; the enclave only accepts links that stay inside`,
    );
  }
  return target;
}

/**
 * Lists the tree of `commit` and makes every refusal: submodules, names that are not UTF-8 (a tar
 * path is UTF-8), modes other than files and links, and symlinks that point outside the tree (the
 * worker only extracts links that stay inside).
 */
async function listArchiveTree(
  dir: string,
  commit: string,
  opts: TreeArchiveOptions,
): Promise<ListedTree> {
  let ls = parseLsTree(opts.listing ?? (await listTree(dir, commit, opts)));
  if (opts.listing !== undefined && ls.some((e) => e.size === undefined && e.mode !== '160000'))
    ls = parseLsTree(await listTree(dir, commit, opts));
  refuseSubmodules(ls.filter((e) => e.mode === '160000').map((e) => e.path.toString('utf8')));
  ls.sort((a, b) => compareBytes(a.path, b.path));
  const paths = ls.map((e) => {
    const p = decodeUtf8(e.path);
    if (p === null) unsupported(e.path.toString('utf8'), 'file name is not valid UTF-8; rename it');
    if (e.mode !== '100644' && e.mode !== '100755' && e.mode !== '120000') {
      unsupported(p, `unsupported tree entry mode ${e.mode}`);
    }
    if (e.size === undefined)
      throw provenanceError('GIT_FAILED', `git ls-tree -l gave no size for ${p}`, p);
    return p;
  });
  const sized = ls as (LsTreeEntry & { size: number })[];
  const links = new Map<number, string>();
  const fromGit: number[] = [];
  sized.forEach((e, i) => {
    if (e.mode !== '120000') return;
    const local = opts.worktree === undefined ? undefined : fromWorktree(opts.worktree, e);
    if (local !== undefined) links.set(i, linkTarget(paths[i]!, local));
    else fromGit.push(i);
  });
  if (fromGit.length > 0) {
    const blobs = new BlobReader(dir, opts);
    try {
      blobs.ask(fromGit.map((i) => sized[i]!.oid));
      blobs.end();
      for (const i of fromGit)
        links.set(
          i,
          linkTarget(paths[i]!, await blobs.all(sized[i]!.oid, sized[i]!.size, paths[i]!)),
        );
    } catch (err) {
      throw await blobs.failed(err);
    } finally {
      await blobs.close();
    }
  }
  return { ls: sized, paths, links };
}

/** Entry `i` of a listed tree as the archive holds it, a file without its content. */
function headOf(tree: ListedTree, i: number): TarInputEntry {
  const e = tree.ls[i]!;
  const path = tree.paths[i]!;
  return e.mode === '120000'
    ? { path, type: 'symlink', linkTarget: tree.links.get(i)! }
    : { path, type: 'file', executable: e.mode === '100755', size: e.size };
}

/** The tar entries of a listed tree, made a group at a time (see the module comment). */
async function* treeEntries(
  dir: string,
  tree: ListedTree,
  opts: TreeArchiveOptions,
): AsyncGenerator<TarInputEntry> {
  const { ls, paths } = tree;
  const blobs = new BlobReader(dir, opts);
  try {
    for (let start = 0; start < ls.length;) {
      let end = start;
      for (let bytes = 0; end < ls.length && end - start < GROUP_FILES && bytes < GROUP_BYTES;)
        bytes += ls[end++]!.size;
      const local = new Map<number, Buffer>();
      const ask: string[] = [];
      for (let i = start; i < end; i++) {
        const e = ls[i]!;
        if (e.mode === '120000') continue;
        const data = opts.worktree === undefined ? undefined : fromWorktree(opts.worktree, e);
        if (data !== undefined) local.set(i, data);
        else ask.push(e.oid);
      }
      blobs.ask(ask);
      if (end === ls.length) blobs.end();
      for (let i = start; i < end; i++) {
        const e = ls[i]!;
        const head = headOf(tree, i);
        if (head.type === 'file')
          head.content = local.get(i) ?? blobs.body(await blobs.next(e.oid, e.size, paths[i]!));
        yield head;
      }
      start = end;
    }
  } catch (err) {
    throw await blobs.failed(err);
  } finally {
    // Early exit (consumer stopped, or an error): stop git; a completed read leaves nothing.
    await blobs.close();
  }
}

/**
 * Lists the tar entries of the tree of `commit` (file content read as each is reached). Refuses
 * what `gitTreeArchive` refuses, before the first entry.
 */
export async function* gitTreeEntries(
  dir: string,
  commit: string,
  opts: TreeArchiveOptions = {},
): AsyncGenerator<TarInputEntry> {
  yield* treeEntries(dir, await listArchiveTree(dir, commit, opts), opts);
}

/** A tar stream of known length, made when opened (each `open()` makes it again). */
export interface TreeArchive {
  size: number;
  open(): AsyncIterable<Uint8Array>;
}

/**
 * The committed tree of `commit` as a tar stream whose length is known from the listing: every
 * refusal is made here, the files are read only when the stream is opened.
 */
export async function gitTreeArchive(
  dir: string,
  commit: string,
  opts: TreeArchiveOptions = {},
): Promise<TreeArchive> {
  const tree = await listArchiveTree(dir, commit, opts);
  return {
    size: tarSize(tree.ls.map((_, i) => headOf(tree, i))),
    // In pieces of about 1 MiB: a header, a body and a padding per file would each be a frame.
    open: () => inPieces(writeTar(treeEntries(dir, tree, opts), { mtime: 0 })),
  };
}

/**
 * The committed tree of `commit` in the checkout at `dir` as a deterministic tar stream.
 */
export function archiveGitTree(
  dir: string,
  commit: string,
  opts: TreeArchiveOptions = {},
): AsyncGenerator<Uint8Array> {
  return writeTar(gitTreeEntries(dir, commit, opts), { mtime: 0 });
}

/** Writes `archiveGitTree` to a file (gzip optional); returns size and SHA-256 of the file. */
export function writeGitTreeArchive(
  dir: string,
  commit: string,
  file: string,
  opts: TreeArchiveOptions & { gzip?: boolean } = {},
): Promise<WriteResult> {
  const w: { gzip?: boolean; mtime: number } = { mtime: 0 };
  if (opts.gzip !== undefined) w.gzip = opts.gzip;
  return writeTarFile(gitTreeEntries(dir, commit, opts), file, w);
}
