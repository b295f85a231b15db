/**
 * The `.git` the build sees: a depth-1 work tree like the one `actions/checkout` gives, written by
 * the worker from verified data only (the files whose tree id it has just recomputed, and the raw
 * commit object whose id it has checked). No git binary is needed: the objects are written loose
 * (zlib, as git writes them), the index in git's DIRC version 2 format with the files' own stat
 * data, so that `git rev-parse HEAD`, `git status` (clean), `git describe --always`, `git log -1`
 * and hook installers work. HEAD is detached at the commit, as checkout leaves it for a tag or a
 * pull request; the commit is listed in `.git/shallow`, as after `git clone --depth 1`.
 *
 * Writing our own objects rather than running `git`: the worker must not depend on a git in the
 * image, and the tree it records must be the one it verified; the tree ids written here are
 * recomputed from the same files and must equal the verified tree, or nothing is written.
 */
import { createHash } from 'node:crypto';
import { lchown, lstat, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflate as deflateCb, deflateSync, constants as zlibConstants } from 'node:zlib';
import { compareBytes } from '../util/bytes.js';
import { encodeTree } from '../provenance/index.js';
import type { TreeEntry } from '../provenance/index.js';
import type { ObjectFormat } from '../provenance/index.js';
import { parseCommitObject } from '../provenance/index.js';

const deflate = promisify(deflateCb);

/** Files deflated at once (libuv's pool has 4 threads). */
const CONCURRENCY = 4;
/** Objects smaller than this are deflated on the main thread. */
const SYNC_DEFLATE_BYTES = 64 * 1024;

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

class ObjectWriter {
  count = 0;
  /** The fan-out folders, each made once; writers of the same folder wait for its making. */
  private readonly dirs = new Map<string, Promise<unknown>>();
  constructor(
    private readonly objects: string,
    private readonly algorithm: 'sha1' | 'sha256',
  ) {}

  async write(type: 'blob' | 'tree' | 'commit', content: Buffer): Promise<Buffer> {
    const header = Buffer.from(`${type} ${content.length}\0`);
    const oid = createHash(this.algorithm).update(header).update(content).digest();
    const hex = oid.toString('hex');
    const dir = join(this.objects, hex.slice(0, 2));
    let made = this.dirs.get(dir);
    if (made === undefined) {
      made = mkdir(dir, { recursive: true });
      this.dirs.set(dir, made);
    }
    await made;
    // Level 1: the work tree is read once more here, and speed matters more than size.
    // Small objects are deflated at once: a trip through the thread pool costs more than them.
    const whole = Buffer.concat([header, content]);
    const opts = { level: zlibConstants.Z_BEST_SPEED };
    const body =
      whole.length < SYNC_DEFLATE_BYTES ? deflateSync(whole, opts) : await deflate(whole, opts);
    try {
      await writeFile(join(dir, hex.slice(2)), body, { flag: 'wx', mode: 0o444 });
      this.count++;
    } catch (e) {
      // The same content twice is one object.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return oid;
  }
}

const DOT_GIT = Buffer.from('.git');
const SLASH = Buffer.from('/');

/**
 * Writes `<root>/.git` for `commit` (raw object `commitObject`, already checked against the tree
 * `tree`) from the files under `root`. Throws when the files do not hash to `tree` (they were
 * verified just before, so this means they changed). Call `writeGitIndex` once the files have
 * their final owner.
 */
export async function writeGitWorkspace(o: {
  root: string;
  commit: string;
  commitObject: Uint8Array;
  tree: string;
  objectFormat: ObjectFormat;
  repository: string | null;
}): Promise<GitWorkspace> {
  const gitDir = join(o.root, '.git');
  const objects = join(gitDir, 'objects');
  for (const d of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'hooks', 'info'])
    await mkdir(join(gitDir, d), { recursive: true });
  const writer = new ObjectWriter(objects, o.objectFormat === 'sha1' ? 'sha1' : 'sha256');
  const files: IndexFile[] = [];

  // Trees need their blobs' ids: files are queued and written by a few workers, then trees.
  interface Dir {
    entries: TreeEntry[];
    subdirs: { name: Buffer; dir: Dir }[];
  }
  const queue: { abs: Buffer; file: IndexFile; entry: TreeEntry }[] = [];
  // Paths stay bytes: git names need not be UTF-8.
  const walk = async (abs: Buffer, rel: Buffer | null): Promise<Dir> => {
    const node: Dir = { entries: [], subdirs: [] };
    for (const d of await readdir(abs, { withFileTypes: true, encoding: 'buffer' })) {
      if (rel === null && d.name.equals(DOT_GIT)) continue;
      const absPath = Buffer.concat([abs, SLASH, d.name]);
      const childRel = rel === null ? d.name : Buffer.concat([rel, SLASH, d.name]);
      if (d.isDirectory()) {
        node.subdirs.push({ name: d.name, dir: await walk(absPath, childRel) });
      } else if (d.isSymbolicLink()) {
        const target = await readlink(absPath, { encoding: 'buffer' });
        const oid = await writer.write('blob', target);
        node.entries.push({ mode: '120000', name: d.name, oid });
        files.push({ path: childRel, mode: 0o120000, oid });
      } else if (d.isFile()) {
        const entry: TreeEntry = { mode: '100644', name: d.name, oid: new Uint8Array(0) };
        const file: IndexFile = { path: childRel, mode: 0o100644, oid: Buffer.alloc(0) };
        node.entries.push(entry);
        files.push(file);
        queue.push({ abs: absPath, file, entry });
      }
      // Anything else was refused when the tree was verified.
    }
    return node;
  };
  const top = await walk(Buffer.from(o.root), null);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < queue.length) {
        const q = queue[next++]!;
        const st = await lstat(q.abs);
        const oid = await writer.write('blob', await readFile(q.abs));
        const exec = (st.mode & 0o100) !== 0;
        q.entry.oid = oid;
        q.file.oid = oid;
        if (exec) {
          q.entry.mode = '100755';
          q.file.mode = 0o100755;
        }
      }
    }),
  );
  const writeTree = async (node: Dir, isRoot: boolean): Promise<Buffer | null> => {
    const entries = [...node.entries];
    for (const s of node.subdirs) {
      const oid = await writeTree(s.dir, false);
      if (oid !== null) entries.push({ mode: '40000', name: s.name, oid });
    }
    if (entries.length === 0 && !isRoot) return null;
    return writer.write('tree', Buffer.from(encodeTree(entries)));
  };
  const treeOid = (await writeTree(top, true))!.toString('hex');
  if (treeOid !== o.tree)
    throw new Error(`the work tree hashes to ${treeOid}, not to the verified tree ${o.tree}`);
  const commitOid = (await writer.write('commit', Buffer.from(o.commitObject))).toString('hex');
  if (commitOid !== o.commit)
    throw new Error(`the commit object hashes to ${commitOid}, not to ${o.commit}`);

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
      objects: writer.count,
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
  for (const f of ws.files) {
    const st = await lstat(Buffer.concat([Buffer.from(ws.root), SLASH, f.path]), { bigint: true });
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
