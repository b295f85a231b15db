/**
 * Node face of the verifier: the policy from a file plus flags with the images published with this
 * version as the default, bundles read from files, and diffoscope.
 */
import { open } from 'node:fs/promises';
import { fileChunks } from '../archive/node.js';
import { readBoundedFile } from '../util/node.js';
import { ImageCatalogError, trustedImages } from '../catalog/index.js';
import { loadImageCatalog } from '../catalog/node.js';
import { VerifyError } from './errors.js';
import type { PolicyFlags } from './policy-flags.js';
import { MAX_POLICY_BYTES, buildTrustPolicy } from './policy.js';
import type { BundleFile, TrustPolicy, TrustedImage } from './types.js';

export { diffoscopeComparer, findDiffoscope } from './diffoscope.js';
export { readJwksFiles, readOriginFlags } from './origin-node.js';
export type { DiffoscopeOptions } from './diffoscope.js';

/**
 * The images published with this version (enclave/images.json, or the catalog at `catalogPath`)
 * as trusted images: their real measurements (null until measured on a Nitro host) and their
 * simulated ones.
 */
export async function loadDefaultImages(catalogPath?: string): Promise<TrustedImage[]> {
  try {
    return trustedImages(await loadImageCatalog(catalogPath));
  } catch (e) {
    // The published images are trust material: without them there is no policy to verify with.
    if (!(e instanceof ImageCatalogError)) throw e;
    throw new VerifyError('POLICY_INVALID', `cannot load the published images: ${e.message}`, {
      path: 'images',
      cause: e,
    });
  }
}

/** Inputs of `loadTrustPolicy`. */
export interface LoadPolicyOptions {
  /** Path of the policy file (JSON); none: the published images, any builder, k = 1. */
  policyFile?: string;
  flags?: PolicyFlags;
  /** Trusted images by default; default: `loadDefaultImages()`. */
  defaultImages?: readonly TrustedImage[];
}

/**
 * Builds the TrustPolicy from a policy file and flags (see `buildTrustPolicy`). An unreadable file
 * is refused as POLICY_INVALID, naming the file.
 */
export async function loadTrustPolicy(opts: LoadPolicyOptions = {}): Promise<TrustPolicy> {
  const defaultImages = opts.defaultImages ?? (await loadDefaultImages());
  let file: { text: Uint8Array; name: string } | undefined;
  if (opts.policyFile !== undefined) {
    let text: Uint8Array;
    try {
      text = await readBoundedFile(opts.policyFile, MAX_POLICY_BYTES);
    } catch (e) {
      throw new VerifyError(
        'POLICY_INVALID',
        `${opts.policyFile}: cannot read the policy file: ${(e as Error).message}`,
        { path: opts.policyFile, cause: e },
      );
    }
    file = { text, name: opts.policyFile };
  }
  const input: Parameters<typeof buildTrustPolicy>[0] = { defaultImages };
  if (file !== undefined) input.file = file;
  if (opts.flags !== undefined) input.flags = opts.flags;
  return buildTrustPolicy(input);
}

/**
 * Opens a bundle file and returns it as a source that streams the file from its start each time it
 * is read (`open()`, or iterating it): verification reads it once, a difference report may read
 * it again. Throws the file system's error (e.g. ENOENT) at once, so that callers can tell an I/O
 * error from a refused bundle.
 */
export async function openBundleFile(
  path: string,
): Promise<AsyncIterable<Uint8Array> & BundleFile> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' });
  } finally {
    await fh.close();
  }
  return {
    open: () => fileChunks(path),
    [Symbol.asyncIterator]: () => fileChunks(path)[Symbol.asyncIterator](),
  };
}
