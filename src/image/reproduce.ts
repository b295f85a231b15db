/**
 * `tee-compile image reproduce`: rebuild an image from its recipe and compare it with its entry in
 * enclave/images.json. On a difference, name the first differing ramdisk member against the
 * published EIF (given, or downloaded from the entry's URL and checked against its SHA-256).
 */
import type { ImageEntry } from '../catalog/index.js';
import { loadImageCatalog } from '../catalog/node.js';
import type { BuildImageOptions, BuiltImage } from './build.js';
import { buildImage, loadRecipe } from './build.js';
import type { EifDifference } from './compare.js';
import { compareEifFiles } from './compare.js';
import { ImageError } from './errors.js';
import { fetchPinned } from './fetch.js';

/** What `reproduceImage` needs besides the build's options. */
export interface ReproduceOptions extends BuildImageOptions {
  /** The catalog to compare with (default: the package's enclave/images.json). */
  catalogPath?: string;
  /** The published EIF, when at hand; else it is fetched from the entry's URL when needed. */
  referenceEif?: string;
}

/** Outcome of a reproduction. */
export interface Reproduction {
  ok: boolean;
  built: BuiltImage;
  entry: ImageEntry;
  /** What differs: PCRs and digest, and the first differing section or member. */
  mismatches: string[];
  difference?: EifDifference;
}

/** Rebuilds and compares; throws `IMAGE_NOT_FOUND` when the catalog has no entry to compare. */
export async function reproduceImage(opts: ReproduceOptions): Promise<Reproduction> {
  const { recipe } = await loadRecipe(opts.root, opts.name);
  const catalog = await loadImageCatalog(opts.catalogPath);
  const entry = catalog.images.find((e) => e.name === recipe.name && e.version === recipe.version);
  if (entry === undefined)
    throw new ImageError(
      'IMAGE_NOT_FOUND',
      `the catalog has no entry ${recipe.name}@${recipe.version} to compare with`,
    );
  if (entry.pcrs === null || entry.eif === null)
    throw new ImageError(
      'IMAGE_NOT_FOUND',
      `${recipe.name}@${recipe.version} has no recorded PCRs or EIF digest yet (build it and record it first)`,
      { path: 'pcrs' },
    );
  const built = await buildImage(opts);
  const mismatches: string[] = [];
  for (const k of ['pcr0', 'pcr1', 'pcr2'] as const)
    if (built[k] !== entry.pcrs[k])
      mismatches.push(`${k.toUpperCase()} ${built[k]} != recorded ${entry.pcrs[k]}`);
  if (built.sha256 !== entry.eif.sha256)
    mismatches.push(`EIF SHA-256 ${built.sha256} != recorded ${entry.eif.sha256}`);
  if (mismatches.length === 0) return { ok: true, built, entry, mismatches };
  const reference =
    opts.referenceEif ??
    (await fetchPinned(
      {
        url: entry.eif.url,
        sha256: entry.eif.sha256,
        what: `published EIF ${entry.name}@${entry.version}`,
      },
      opts.cacheDir,
    ));
  const difference = await compareEifFiles(reference, built.eif);
  return difference === undefined
    ? { ok: false, built, entry, mismatches }
    : { ok: false, built, entry, mismatches, difference };
}
