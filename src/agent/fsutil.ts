/**
 * Durable file writes: results and job states are written to a temporary file, fsynced, renamed
 * over the target and the directory fsynced, so a crash (even `kill -9` or a power cut) leaves
 * either the old or the new content, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** fsyncs a directory so that a rename or a new entry in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a file's content. */
export async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `file` atomically and durably. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o640);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, file);
  await fsyncDir(dirname(file));
}

/** Moves a finished file into place durably: fsync the file, rename, fsync the directory. */
export async function commitFile(tmp: string, file: string): Promise<void> {
  await fsyncFile(tmp);
  await rename(tmp, file);
  await fsyncDir(dirname(file));
}

/**
 * Total size in bytes of the files under `path` (symlinks not followed); 0 when missing. A file
 * with several hard links under `path` (a build's hold on a cached dependency set) counts once.
 */
export async function diskUsage(path: string): Promise<number> {
  return usageOf(path, new Set());
}

async function usageOf(path: string, seen: Set<string>): Promise<number> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) {
    if (st.nlink > 1) {
      const inode = `${st.dev}:${st.ino}`;
      if (seen.has(inode)) return 0;
      seen.add(inode);
    }
    return st.size;
  }
  let total = 0;
  let names: string[];
  try {
    names = await readdir(path);
  } catch {
    return 0;
  }
  for (const name of names) total += await usageOf(join(path, name), seen);
  return total;
}
