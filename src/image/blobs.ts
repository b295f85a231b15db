/**
 * The AWS boot blobs (kernel, init, nsm.ko, cmdline) from aws-nitro-enclaves-cli `blobs/<arch>/`,
 * taken from the `--blobs` folder and checked against the recipe's pins: SHA-256, or the git blob
 * id of the file in the pinned aws-nitro-enclaves-cli commit (how the kernel is pinned until its
 * SHA-256 is recorded where it can be downloaded).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../util/node.js';
import { ImageError } from './errors.js';
import type { Recipe, RecipeBlob } from './recipe.js';

/** A checked blob. */
export interface Blob {
  path: string;
  sha256: string;
  size: number;
}

/** The four checked blobs. */
export interface BootBlobs {
  kernel: Blob;
  init: Blob;
  nsm: Blob;
  cmdline: Blob;
}

async function gitBlobId(path: string, size: number): Promise<string> {
  const h = createHash('sha1');
  h.update(`blob ${size}\0`);
  h.update(await readFile(path));
  return h.digest('hex');
}

async function checkBlob(dir: string, role: string, pin: RecipeBlob): Promise<Blob> {
  const path = join(dir, pin.file);
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch (e) {
    throw new ImageError(
      'BLOB_MISSING',
      `boot blob ${role} (${pin.file}) is not in ${dir}: pass --blobs with aws-nitro-enclaves-cli's blobs/x86_64 folder`,
      { path: `blobs.${role}`, cause: e },
    );
  }
  const sha256 = await sha256File(path);
  if (pin.sha256 !== undefined && sha256 !== pin.sha256)
    throw new ImageError(
      'DIGEST_MISMATCH',
      `boot blob ${role} ${path} has SHA-256 ${sha256}, the recipe pins ${pin.sha256}`,
      { path: `blobs.${role}` },
    );
  if (pin.gitBlob !== undefined) {
    const id = await gitBlobId(path, size);
    if (id !== pin.gitBlob)
      throw new ImageError(
        'DIGEST_MISMATCH',
        `boot blob ${role} ${path} has git blob id ${id}, the recipe pins ${pin.gitBlob}`,
        { path: `blobs.${role}` },
      );
  }
  return { path, sha256, size };
}

/** Checks the recipe's boot blobs in `dir`. */
export async function checkBootBlobs(dir: string, recipe: Recipe): Promise<BootBlobs> {
  const b = recipe.blobs;
  return {
    kernel: await checkBlob(dir, 'kernel', b.kernel),
    init: await checkBlob(dir, 'init', b.init),
    nsm: await checkBlob(dir, 'nsm', b.nsm),
    cmdline: await checkBlob(dir, 'cmdline', b.cmdline),
  };
}

/** The kernel command line as nitro-cli reads it (`read_to_string` then `trim()`). */
export async function readCmdline(blob: Blob): Promise<string> {
  return (await readFile(blob.path, 'utf8')).trim();
}
