/**
 * Reuse of what an earlier build made from the same pinned inputs: the compiled helpers and the
 * Debian root file system. Each lives in the cache under a key that is the SHA-256 of everything
 * it is made from (the checked .debs' digests, the helper sources, the compiler flags, the suite,
 * mirror line and `SOURCE_DATE_EPOCH`, and mmdebstrap's version), with a manifest of what it
 * holds: the helpers' SHA-256, the tree's member digest (path, mode, owner, device, content of
 * every entry). An entry is used only when it matches its manifest, else it is made again; so a
 * damaged cache costs time, never a different image. A builder that must not trust its own cache
 * (a published build) passes `reuse: false`, or starts from an empty cache as images.yml does.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../provenance/index.js';
import { sha256File } from '../util/node.js';
import type { CpioMember } from './cpio.js';
import { comparePaths } from './cpio.js';

/** Key of a reusable product: SHA-256 of the canonical JSON of what it is made from. */
export function reuseKey(kind: string, inputs: unknown): string {
  return createHash('sha256').update(canonicalJson({ kind, inputs })).digest('hex');
}

const entryDir = (cacheDir: string, kind: string, key: string) => join(cacheDir, kind, key);

/**
 * Digest of a tree's members (as {@link treeMembers} lists them): sorted by path bytes, each
 * member's path, mode, owner, device numbers and content SHA-256. What the tree contributes to
 * the customer ramdisk, independent of file times and inode numbers.
 */
export async function membersDigest(members: readonly CpioMember[]): Promise<string> {
  const h = createHash('sha256');
  for (const m of [...members].sort((a, b) => comparePaths(a.path, b.path))) {
    const data =
      m.data === undefined ? undefined : m.data instanceof Uint8Array ? m.data : await m.data();
    const content = data === undefined ? '-' : createHash('sha256').update(data).digest('hex');
    h.update(
      `${m.path}\0${m.mode} ${m.uid} ${m.gid} ${m.rdevMajor ?? 0} ${m.rdevMinor ?? 0} ${content}\n`,
    );
  }
  return h.digest('hex');
}

/** Copies cached helpers into `outDir` when they match their manifest; false when absent. */
export async function reusedHelpers(
  cacheDir: string,
  key: string,
  names: readonly string[],
  outDir: string,
): Promise<boolean> {
  const dir = entryDir(cacheDir, 'helpers', key);
  let manifest: Record<string, string>;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<
      string,
      string
    >;
  } catch {
    return false;
  }
  for (const n of names)
    if (
      manifest[n] === undefined ||
      (await sha256File(join(dir, n)).catch(() => '')) !== manifest[n]
    ) {
      await rm(dir, { recursive: true, force: true });
      return false;
    }
  await mkdir(outDir, { recursive: true });
  for (const n of names) await copyFile(join(dir, n), join(outDir, n));
  return true;
}

/** Keeps freshly compiled helpers for the next build. */
export async function keepHelpers(
  cacheDir: string,
  key: string,
  names: readonly string[],
  fromDir: string,
): Promise<void> {
  const dir = entryDir(cacheDir, 'helpers', key);
  const partial = `${dir}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const manifest: Record<string, string> = {};
  for (const n of names) {
    await copyFile(join(fromDir, n), join(partial, n));
    manifest[n] = await sha256File(join(partial, n));
  }
  await writeFile(join(partial, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
}

/** Where a cached root file system lives: `<dir>/tree` and `<dir>/manifest.json`. */
export function rootfsEntry(cacheDir: string, key: string): { dir: string; tree: string } {
  const dir = entryDir(cacheDir, 'rootfs', key);
  return { dir, tree: join(dir, 'tree') };
}

/** The recorded member digest of a cached tree, or undefined when there is none. */
export async function rootfsManifest(cacheDir: string, key: string): Promise<string | undefined> {
  try {
    const m = JSON.parse(
      await readFile(join(rootfsEntry(cacheDir, key).dir, 'manifest.json'), 'utf8'),
    ) as { members?: unknown };
    return typeof m.members === 'string' ? m.members : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh folder in the cache to make a tree in (same file system, so keeping it is a rename). */
export async function rootfsPartial(cacheDir: string, key: string): Promise<string> {
  const partial = `${rootfsEntry(cacheDir, key).dir}.${process.pid}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  return partial;
}

/** Keeps a tree made in `partial` (as `partial/tree`) with its member digest; returns its path. */
export async function keepRootfs(
  cacheDir: string,
  key: string,
  partial: string,
  digest: string,
): Promise<string> {
  const { dir, tree } = rootfsEntry(cacheDir, key);
  await writeFile(
    join(partial, 'manifest.json'),
    JSON.stringify({ members: digest }, null, 2) + '\n',
  );
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return tree;
}

/** Drops a cached tree (one that does not match its manifest, or a partial one). */
export async function dropRootfs(cacheDir: string, key: string): Promise<void> {
  await rm(rootfsEntry(cacheDir, key).dir, { recursive: true, force: true });
}
