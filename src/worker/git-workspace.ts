/**
 * The `.git` the build sees: a depth-1 work tree like the one `actions/checkout` gives, written by
 * the worker from verified data only (the files whose tree id it has just recomputed, and the raw
 * commit object whose id it has checked). No git binary is needed: the objects are written in one
 * packfile (./git-pack.ts; one file rather than one per source file), the index in git's DIRC
 * version 2 format with the files' own stat data, so that `git rev-parse HEAD`, `git status`
 * (clean), `git describe --always`, `git log -1` and hook installers work. HEAD is detached at the
 * commit, as checkout leaves it for a tag or a pull request; the commit is listed in
 * `.git/shallow`, as after `git clone --depth 1`.
 *
 * Writing our own objects rather than running `git`: the worker must not depend on a git in the
 * image, and the tree it records must be the one it verified; the tree objects written here are
 * the ones that check encoded and hashed from the files (and the blobs the bytes the extraction
 * kept), and the root's id must be the verified tree, or nothing is written.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { lchown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compareBytes } from '../util/bytes.js';
import type { PackObject } from './git-pack.js';
import { writePack } from './git-pack.js';
import type { ObjectFormat } from '../provenance/index.js';
import { parseCommitObject } from '../provenance/index.js';
import type { HashedDir, HashedEntry, KnownBlob } from '../provenance/node.js';
import { computeTreeId } from '../provenance/node.js';
import { SMALL_FILE_BYTES } from '../archive/node.js';

/** What the provenance records of the work tree given to the build. */
export interface GitWorkspaceRecord {
  /** `.git`, relative to the source root. */
  gitDir: '.git';
  /** The commit HEAD points at (detached). */
  head: string;
  objectFormat: ObjectFormat;
  /** The commit has parents, which are absent as after a depth-1 clone (`.git/shallow`). */
  shallow: boolean;
  /** Objects written: blobs, trees and the commit. */
  objects: number;
  /** Entries of the index. */
  indexEntries: number;
}

/** One index entry before its stat data is read. */
interface IndexFile {
  /** Path relative to the root, `/`-separated bytes. */
  path: Buffer;
  mode: number;
  oid: Buffer;
}

/** A `.git` written but not yet indexed (see `writeGitIndex`). */
export interface GitWorkspace {
  record: GitWorkspaceRecord;
  root: string;
  files: IndexFile[];
}

/** The distinct objects of the work tree, by id, to be packed (./git-pack.ts). */
class ObjectSet {
  readonly objects = new Map<string, PackObject>();
  constructor(readonly algorithm: 'sha1' | 'sha256') {}

  /** Adds an object whose id is already known (a blob hashed as it was written). */
  addKnown(oid: Uint8Array, type: PackObject['type'], content: PackObject['content']): void {
    const hex = Buffer.from(oid).toString('hex');
    if (!this.objects.has(hex)) this.objects.set(hex, { oid, type, content });
  }

  /** The id of `content` as a `type` object. */
  hash(type: PackObject['type'], content: Uint8Array): Buffer {
    return createHash(this.algorithm)
      .update(`${type} ${content.length}\0`)
      .update(content)
      .digest();
  }

  /** Hashes `content` as a `type` object and adds it; its id. */
  add(type: PackObject['type'], content: Buffer): Buffer {
    const oid = this.hash(type, content);
    this.addKnown(oid, type, () => Promise.resolve(content));
    return oid;
  }
}

const SLASH = Buffer.from('/');

/**
 * Writes `<root>/.git` for `commit` (raw object `commitObject`, already checked against the tree
 * `tree`) from the files under `root`: as hashed when that tree was verified (`hashed`, from
 * `TreeHashOptions.onTree`), else hashed here. Throws when they do not make `tree` (they were
 * verified just before, so this means they changed). Call `writeGitIndex` once the files have
 * their final owner.
 */
export async function writeGitWorkspace(o: {
  root: string;
  /** Blob ids of files hashed as they were written (see `TreeHashOptions.known`), by path. */
  known?: ReadonlyMap<string, KnownBlob>;
  /** The files as hashed when the tree was verified (the same `root`). */
  hashed?: HashedDir;
  commit: string;
  commitObject: Uint8Array;
  tree: string;
  objectFormat: ObjectFormat;
  repository: string | null;
}): Promise<GitWorkspace> {
  let top = o.hashed;
  if (top === undefined)
    await computeTreeId(o.root, o.objectFormat, {
      ...(o.known !== undefined ? { known: o.known } : {}),
      onTree: (t) => (top = t),
    });
  const gitDir = join(o.root, '.git');
  for (const d of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'hooks', 'info'])
    await mkdir(join(gitDir, d), { recursive: true });
  const set = new ObjectSet(o.objectFormat === 'sha1' ? 'sha1' : 'sha256');
  const files: IndexFile[] = [];
  const root = Buffer.from(o.root);

  /**
   * A file's content, read when it is packed: kept from the extraction (the blob the tree check
   * found for it), or read back from `abs()`, its path, made only then.
   */
  const contentOf = (abs: () => Buffer, entry: HashedEntry): PackObject['content'] => {
    if (entry.mode === '120000')
      return () => Promise.resolve(readlinkSync(abs(), { encoding: 'buffer' }));
    const blob = entry.blob;
    if (blob?.data !== undefined) {
      const data = blob.data;
      return () => Promise.resolve(data);
    }
    // A file just written from one buffer (src/archive/extract.ts) is read back the same way:
    // a trip through the thread pool per file costs more than the read.
    return blob !== undefined && blob.size <= SMALL_FILE_BYTES
      ? () => Promise.resolve(readFileSync(abs()))
      : () => readFile(abs());
  };
  // Paths stay bytes: git names need not be UTF-8. Each folder's tree object is the one its check
  // encoded and hashed (`HashedDir.tree`; a folder without any file has none, as git records none).
  const addTree = (node: HashedDir, abs: Buffer, rel: Buffer | null): void => {
    for (const e of node.entries) {
      const name = Buffer.from(e.name.buffer, e.name.byteOffset, e.name.length);
      const path = rel === null ? name : Buffer.concat([rel, SLASH, name]);
      set.addKnown(
        e.oid,
        'blob',
        contentOf(() => Buffer.concat([abs, SLASH, name]), e),
      );
      files.push({ path, mode: Number.parseInt(e.mode, 8), oid: Buffer.from(e.oid) });
    }
    for (const s of node.subdirs) {
      const path = rel === null ? s.name : Buffer.concat([rel, SLASH, s.name]);
      addTree(s.node, Buffer.concat([abs, SLASH, s.name]), path);
    }
    const tree = node.tree;
    if (tree !== undefined) set.addKnown(tree.oid, 'tree', () => Promise.resolve(tree.encoded));
  };
  addTree(top!, root, null);
  const treeOid = top!.tree?.oid.toString('hex');
  if (treeOid !== o.tree)
    throw new Error(`the work tree hashes to ${treeOid}, not to the verified tree ${o.tree}`);
  const commitOid = set.add('commit', Buffer.from(o.commitObject)).toString('hex');
  if (commitOid !== o.commit)
    throw new Error(`the commit object hashes to ${commitOid}, not to ${o.commit}`);
  await writePack(join(gitDir, 'objects', 'pack'), [...set.objects.values()], set.algorithm);

  const parents = parseCommitObject(o.commitObject).parents;
  await writeFile(join(gitDir, 'HEAD'), `${o.commit}\n`);
  // The shallow file names the commits whose parents are missing: here the commit itself.
  if (parents.length > 0) await writeFile(join(gitDir, 'shallow'), `${o.commit}\n`);
  await writeFile(join(gitDir, 'config'), gitConfig(o.objectFormat, o.repository));
  await writeFile(join(gitDir, 'description'), 'tee-compile build work tree\n');
  files.sort((a, b) => compareBytes(a.path, b.path));
  return {
    root: o.root,
    files,
    record: {
      gitDir: '.git',
      head: o.commit,
      objectFormat: o.objectFormat,
      shallow: parents.length > 0,
      objects: set.objects.size,
      indexEntries: files.length,
    },
  };
}

function gitConfig(format: ObjectFormat, repository: string | null): string {
  const lines = [
    '[core]',
    `\trepositoryformatversion = ${format === 'sha1' ? 0 : 1}`,
    '\tfilemode = true',
    '\tbare = false',
    '\tlogallrefupdates = true',
  ];
  if (format !== 'sha1') lines.push('[extensions]', '\tobjectformat = sha256');
  // A URL with a newline or quote could write other settings: such a name is left out.
  if (repository !== null && /^[\x21-\x7e]+$/.test(repository) && !/["\\]/.test(repository))
    lines.push(
      '[remote "origin"]',
      `\turl = ${repository}`,
      '\tfetch = +refs/heads/*:refs/remotes/origin/*',
    );
  return `${lines.join('\n')}\n`;
}

/**
 * Writes `.git/index` (DIRC version 2) with each file's current stat data, so that `git status`
 * finds the work tree clean without re-reading it; `owner` gives the index to the build's user.
 */
export async function writeGitIndex(
  ws: GitWorkspace,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const algorithm = ws.record.objectFormat === 'sha1' ? 'sha1' : 'sha256';
  const oidLen = algorithm === 'sha1' ? 20 : 32;
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(ws.files.length, 8);
  parts.push(header);
  const u32 = (n: number | bigint): number => Number(BigInt(n) & 0xffffffffn);
  const root = Buffer.from(ws.root);
  for (const f of ws.files) {
    // Synchronous: one trip through the thread pool per file cost more than the call itself
    // (1 595 files: about 100 ms against 10), and nothing else runs meanwhile.
    const st = lstatSync(Buffer.concat([root, SLASH, f.path]), { bigint: true });
    const fixed = 40 + oidLen + 2;
    // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
    const len = Math.floor((fixed + f.path.length + 8) / 8) * 8;
    const e = Buffer.alloc(len);
    const ns = 1_000_000_000n;
    const words = [
      st.ctimeNs / ns,
      st.ctimeNs % ns,
      st.mtimeNs / ns,
      st.mtimeNs % ns,
      st.dev,
      st.ino,
      BigInt(f.mode),
      st.uid,
      st.gid,
      st.size,
    ];
    words.forEach((w, i) => e.writeUInt32BE(u32(w), i * 4));
    f.oid.copy(e, 40);
    e.writeUInt16BE(Math.min(f.path.length, 0xfff), 40 + oidLen);
    f.path.copy(e, fixed);
    parts.push(e);
  }
  const body = Buffer.concat(parts);
  const sum = createHash(algorithm).update(body).digest();
  const file = join(ws.root, '.git', 'index');
  await writeFile(file, Buffer.concat([body, sum]));
  if (owner) await lchown(file, owner.uid, owner.gid);
}
