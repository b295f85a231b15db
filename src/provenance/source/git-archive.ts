/**
 * The committed tree of a checkout as a deterministic tar archive: the same commit gives the same
 * bytes on any machine and git version. Entries come from `git ls-tree -r -z` (sorted bytewise by
 * path), content from one `git cat-file --batch` process; files are 0644 or 0755, symlinks stay
 * symlinks, mtime 0, no directory entries, no global pax header (src/archive's `writeTar`).
 *
 * With `worktree`, a file of the work tree whose bytes hash to the entry's blob id is taken from
 * there instead (git would inflate it from its object store, a few times slower): the blob id
 * decides, so a changed file, a checkout filter or line-ending conversion, a file swapped for a
 * link, all come from git as committed. Node only.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { symlinkStaysInside, writeTar } from '../../archive/index.js';
import type { TarInputEntry } from '../../archive/index.js';
import { writeTarFile } from '../../archive/node.js';
import type { WriteResult } from '../../archive/node.js';
import { compareBytes, decodeUtf8 } from '../../util/encoding.js';
import { provenanceError } from '../errors.js';
import { firstLine, gitEnv } from '../exec.js';
import { git, refuseSubmodules } from './git.js';
import type { GitOptions } from './git.js';

/** One blob of the tree as `git ls-tree` lists it. */
interface LsTreeEntry {
  mode: string;
  oid: string;
  /** Path bytes. */
  path: Buffer;
}

function parseLsTree(out: Buffer): LsTreeEntry[] {
  const entries: LsTreeEntry[] = [];
  let start = 0;
  for (let end = out.indexOf(0); end >= 0; end = out.indexOf(0, start)) {
    const rec = out.subarray(start, end);
    start = end + 1;
    const tab = rec.indexOf(9);
    const [mode, , oid] = rec.subarray(0, tab).toString('latin1').split(' ');
    entries.push({ mode: mode!, oid: oid!, path: rec.subarray(tab + 1) });
  }
  return entries;
}

/**
 * Buffered reader over `git cat-file --batch` output: header lines, then exact-size bodies.
 *
 * It starts reading at once. Node drains (`resume()`s, so discards) the output of a child that
 * has exited when nothing listens to it, and git answers a short list of requests and exits while
 * the work-tree files before the first answer are still being archived: an iterator created but
 * not yet asked for its first chunk does not listen, and the answers were lost ("ended early").
 */
class BatchReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;
  /** The next chunk, asked for ahead (see the class comment). */
  private ahead: Promise<IteratorResult<Buffer>>;

  constructor(stream: AsyncIterable<Buffer>) {
    this.it = stream[Symbol.asyncIterator]();
    this.ahead = this.it.next();
    // Awaited in more(); a failure before then must not be an unhandled rejection.
    this.ahead.catch(() => undefined);
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.ahead;
    if (!r.done) {
      this.ahead = this.it.next();
      this.ahead.catch(() => undefined);
    }
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  async line(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl >= 0) {
        const l = this.buf.subarray(0, nl).toString('latin1');
        this.buf = this.buf.subarray(nl + 1);
        return l;
      }
      if (!(await this.more())) throw provenanceError('GIT_FAILED', 'git cat-file ended early');
    }
  }

  async *body(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.more())) {
        throw provenanceError('GIT_FAILED', 'git cat-file ended in the middle of an object');
      }
      const take = Math.min(left, this.buf.length);
      const chunk = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield chunk;
    }
  }

  async all(n: number): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const c of this.body(n)) parts.push(c);
    return Buffer.concat(parts);
  }
}

export interface TreeArchiveOptions extends GitOptions {
  /** The commit's `git ls-tree -r -z --full-tree` output, when already read (`readGitCheckout`). */
  listing?: Buffer;
  /**
   * The repository's work tree (its top folder): files there that hash to their blob id are read
   * from it rather than from git (see the module comment).
   */
  worktree?: string;
}

/** Largest work-tree file read in place of git's object (bigger ones stream from git). */
const MAX_WORKTREE_FILE_BYTES = 16 * 1024 * 1024;
/** Work-tree bytes held for one archive; past it, the rest comes from git. */
const MAX_WORKTREE_BYTES = 256 * 1024 * 1024;

/**
 * The entries of `ls` whose work-tree copy under `top` hashes to their blob id: file contents, or
 * link targets, by index. Anything else (absent, changed, another kind, too large, unreadable) is
 * left to git. Synchronous calls: a trip through the thread pool per file costs more than reading
 * it (thousands of small files are the common case), and nothing else waits meanwhile.
 */
function fromWorktree(top: string, ls: readonly LsTreeEntry[]): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  const algorithm = ls[0]?.oid.length === 64 ? 'sha256' : 'sha1';
  let held = 0;
  for (let i = 0; i < ls.length && held < MAX_WORKTREE_BYTES; i++) {
    const e = ls[i]!;
    const file = join(top, e.path.toString('utf8'));
    let data: Buffer;
    try {
      const st = lstatSync(file);
      if (e.mode === '120000') {
        if (!st.isSymbolicLink()) continue;
        data = readlinkSync(file, { encoding: 'buffer' });
      } else {
        if (!st.isFile() || st.size > MAX_WORKTREE_FILE_BYTES) continue;
        data = readFileSync(file);
      }
    } catch {
      continue;
    }
    const oid = createHash(algorithm).update(`blob ${data.length}\0`).update(data).digest('hex');
    if (oid !== e.oid) continue;
    found.set(i, data);
    held += data.length;
  }
  return found;
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
 * Lists the tar entries of the tree of `commit` (file content streamed from git). Refuses
 * submodules, names that are not UTF-8 (a tar path is UTF-8), and symlinks that point outside the
 * tree (the worker only extracts links that stay inside).
 */
export async function* gitTreeEntries(
  dir: string,
  commit: string,
  opts: TreeArchiveOptions = {},
): AsyncGenerator<TarInputEntry> {
  const ls = parseLsTree(
    opts.listing ?? (await git(dir, ['ls-tree', '-r', '-z', '--full-tree', commit], opts)).stdout,
  );
  refuseSubmodules(ls.filter((e) => e.mode === '160000').map((e) => e.path.toString('utf8')));
  ls.sort((a, b) => compareBytes(a.path, b.path));
  const paths = ls.map((e) => {
    const p = decodeUtf8(e.path);
    if (p === null) unsupported(e.path.toString('utf8'), 'file name is not valid UTF-8; rename it');
    if (e.mode !== '100644' && e.mode !== '100755' && e.mode !== '120000') {
      unsupported(p, `unsupported tree entry mode ${e.mode}`);
    }
    return p;
  });
  if (ls.length === 0) return;
  const local =
    opts.worktree === undefined ? new Map<number, Buffer>() : fromWorktree(opts.worktree, ls);
  const fromGit = ls.flatMap((e, i) => (local.has(i) ? [] : [i]));
  const fromWorktreeEntry = (i: number, data: Buffer): TarInputEntry => {
    const e = ls[i]!;
    const path = paths[i]!;
    return e.mode === '120000'
      ? { path, type: 'symlink', linkTarget: linkTarget(path, data) }
      : {
          path,
          type: 'file',
          executable: e.mode === '100755',
          size: data.length,
          content: (async function* () {
            yield data;
          })(),
        };
  };
  if (fromGit.length === 0) {
    // A clean checkout: nothing to ask git.
    for (let i = 0; i < ls.length; i++) yield fromWorktreeEntry(i, local.get(i)!);
    return;
  }
  const child: ChildProcessWithoutNullStreams = spawn(opts.git ?? 'git', ['cat-file', '--batch'], {
    cwd: dir,
    env: gitEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.on('error', () => undefined);
  // All requests up front (small); git answers in order and pipe back-pressure paces it.
  child.stdin.end(fromGit.map((i) => `${ls[i]!.oid}\n`).join(''));
  const reader = new BatchReader(child.stdout as AsyncIterable<Buffer>);
  try {
    for (let i = 0; i < ls.length; i++) {
      const e = ls[i]!;
      const path = paths[i]!;
      const mine = local.get(i);
      if (mine !== undefined) {
        yield fromWorktreeEntry(i, mine);
        local.delete(i);
        continue;
      }
      const header = await reader.line();
      const m = /^([0-9a-f]+) blob ([0-9]+)$/.exec(header);
      if (m === null || m[1] !== e.oid) {
        throw provenanceError(
          'GIT_FAILED',
          `git cat-file: unexpected answer ${JSON.stringify(header.slice(0, 100))} for ${path}`,
        );
      }
      const size = Number(m[2]);
      if (e.mode === '120000') {
        yield { path, type: 'symlink', linkTarget: linkTarget(path, await reader.all(size)) };
      } else {
        yield {
          path,
          type: 'file',
          executable: e.mode === '100755',
          size,
          content: reader.body(size),
        };
      }
      if ((await reader.line()) !== '')
        throw provenanceError('GIT_FAILED', 'git cat-file: missing object terminator');
    }
  } catch (err) {
    if (
      stderr !== '' &&
      err instanceof Error &&
      (err as { code?: unknown }).code === 'GIT_FAILED'
    ) {
      err.message += ` (${firstLine(stderr)})`;
    }
    throw err;
  } finally {
    // Early exit (consumer stopped, or an error): stop git; a completed read leaves nothing.
    child.stdout.destroy();
    if (child.exitCode === null) child.kill();
    await exited;
  }
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
