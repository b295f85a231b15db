/**
 * The two ramdisks as `nitro-cli build-enclave` lays them out (aws-nitro-enclaves-cli
 * `enclave_build/src/yaml_generator.rs`, the linuxkit templates, and `docker.rs` `write_config`):
 *
 * - bootstrap (PCR1 with the kernel): `dev/` (0755), `init` (0755), `nsm.ko` (0755);
 * - customer (PCR2): the image's file system under `rootfs/`, the directories `rootfs/dev`,
 *   `rootfs/run`, `rootfs/sys`, `rootfs/var`, `rootfs/proc`, `rootfs/tmp` (0755 when the image
 *   lacks them), and `cmd` and `env` (0644): one CMD argument, or one `KEY=value`, per line, each
 *   ending in a newline.
 *
 * AWS's `init` mounts the customer tree at /rootfs, chroots into it and runs `cmd` with `env`.
 * Both are uncompressed newc archives ("kernel+initrd-nogz").
 */
import { readFile } from 'node:fs/promises';
import type { CpioMember } from './cpio.js';
import { S_IFDIR, S_IFREG } from './cpio.js';

/** Directories nitro-cli adds to every customer ramdisk. */
export const CUSTOMER_DIRS = ['dev', 'run', 'sys', 'var', 'proc', 'tmp'] as const;

const dir = (path: string): CpioMember => ({ path, mode: S_IFDIR | 0o755, uid: 0, gid: 0 });
const file = (path: string, perm: number, data: CpioMember['data']): CpioMember => ({
  path,
  mode: S_IFREG | perm,
  uid: 0,
  gid: 0,
  data,
});

/** The bootstrap ramdisk's members. */
export function bootstrapMembers(initPath: string, nsmPath: string): CpioMember[] {
  return [
    dir('dev'),
    file('init', 0o755, () => readFile(initPath)),
    file('nsm.ko', 0o755, () => readFile(nsmPath)),
  ];
}

/** `cmd` and `env` as nitro-cli writes them. */
export function configFile(lines: readonly string[]): Uint8Array {
  return new TextEncoder().encode(lines.map((l) => `${l}\n`).join(''));
}

/**
 * The customer ramdisk's members: `rootfs` itself, the tree's members (already prefixed with
 * `rootfs/`), the directories init needs where the tree lacks them, `cmd` and `env`.
 */
export function customerMembers(
  tree: readonly CpioMember[],
  cmd: readonly string[],
  env: readonly string[],
): CpioMember[] {
  const have = new Set(tree.map((m) => m.path));
  const out: CpioMember[] = [dir('rootfs'), ...tree];
  for (const d of CUSTOMER_DIRS) if (!have.has(`rootfs/${d}`)) out.push(dir(`rootfs/${d}`));
  out.push(file('cmd', 0o644, configFile(cmd)), file('env', 0o644, configFile(env)));
  return out;
}
