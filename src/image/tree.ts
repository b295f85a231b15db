/**
 * A directory tree as cpio members: what the customer ramdisk's `rootfs/` holds. Owners, modes,
 * symlink targets and device numbers come from the tree (built as root, so Debian's owners are
 * real); times, inodes and link counts are the cpio writer's fixed values; hard links become
 * separate files.
 */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpioMember } from './cpio.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './cpio.js';
import { ImageError } from './errors.js';

const S_IFIFO = 0o010000;

/** Members for every entry below `dir`, their paths prefixed with `prefix/`. */
export async function treeMembers(dir: string, prefix: string): Promise<CpioMember[]> {
  const out: CpioMember[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const name of (await readdir(abs)).sort()) {
      const p = join(abs, name);
      const path = `${rel}/${name}`;
      const st = await lstat(p);
      const type = st.mode & S_IFMT;
      const base = { path, mode: st.mode, uid: st.uid, gid: st.gid };
      if (type === S_IFDIR) {
        out.push(base);
        await walk(p, path);
      } else if (type === S_IFREG) out.push({ ...base, data: () => readFile(p) });
      else if (type === S_IFLNK)
        out.push({ ...base, data: new TextEncoder().encode(await readlink(p)) });
      else if (type === S_IFCHR || type === S_IFBLK)
        out.push({
          ...base,
          rdevMajor: Math.floor(st.rdev / 256) & 0xfff,
          rdevMinor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
        });
      else if (type === S_IFIFO) out.push(base);
      else throw new ImageError('PATH_UNSAFE', `${p}: sockets cannot go into a ramdisk`, { path });
    }
  };
  await walk(dir, prefix);
  return out;
}
