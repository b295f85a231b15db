/**
 * Writing side of the bundle layout, pure: artifact name checks, the fixed member order, and the
 * whole bundle as bytes (for browsers and tests; the Node face streams files from disk instead).
 */
import type { TarInputEntry } from '../archive/index.js';
import { ArchiveError, safeRelativePath, writeTar } from '../archive/index.js';
import { collect, compareUtf8, fromReadable } from '../util/bytes.js';
import { BundleError } from './errors.js';
import { MAX_BUNDLE_PATH_BYTES, MAX_BUNDLE_PATH_DEPTH } from './limits.js';
import type { BundleWriteInput } from './types.js';
import {
  BUNDLE_ARTIFACTS_DIR,
  BUNDLE_ATTESTATION,
  BUNDLE_ENVELOPE,
  BUNDLE_LOG,
  BUNDLE_PROVENANCE,
} from './types.js';

/** Bytewise order of the UTF-8 encodings (what `LC_ALL=C sort` gives), not UTF-16 order. */
export const compareBytewise = compareUtf8;

/**
 * Checks that artifact names are normalised relative paths (what a reader would produce from the
 * member name) and unique, and returns the indices in bytewise name order.
 */
export function orderArtifacts(names: readonly string[]): number[] {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    const path = `artifacts.${i}.name`;
    let normal: string;
    try {
      normal = safeRelativePath(`${BUNDLE_ARTIFACTS_DIR}/${name}`, {
        maxEntries: 1,
        maxEntryBytes: 0,
        maxTotalBytes: 0,
        maxPathBytes: MAX_BUNDLE_PATH_BYTES,
        maxDepth: MAX_BUNDLE_PATH_DEPTH,
      });
    } catch (e) {
      if (!(e instanceof ArchiveError)) throw e;
      throw new BundleError('BUNDLE_ARTIFACT_INVALID', `${path}: ${e.message}`, { path, cause: e });
    }
    if (normal !== `${BUNDLE_ARTIFACTS_DIR}/${name}` || name === '') {
      throw new BundleError(
        'BUNDLE_ARTIFACT_INVALID',
        `${path}: ${JSON.stringify(name)} is not a normalised relative path (no leading /, ./, //, .. or trailing /)`,
        { path },
      );
    }
    if (seen.has(name)) {
      throw new BundleError('BUNDLE_ARTIFACT_INVALID', `${path}: ${name} is listed twice`, {
        path,
      });
    }
    seen.add(name);
  });
  return names.map((_, i) => i).sort((a, b) => compareBytewise(names[a]!, names[b]!));
}

/** The fixed members (the envelope only when given), in their fixed order. */
export function headEntries(input: Omit<BundleWriteInput, 'artifacts'>): TarInputEntry[] {
  return [
    { path: BUNDLE_PROVENANCE, type: 'file', content: input.provenance },
    ...(input.envelope === undefined
      ? []
      : [{ path: BUNDLE_ENVELOPE, type: 'file' as const, content: input.envelope }]),
    { path: BUNDLE_ATTESTATION, type: 'file', content: input.attestation },
    { path: BUNDLE_LOG, type: 'file', content: input.log },
  ];
}

/** Tar entries of a bundle whose artifacts are all given as bytes, in the fixed order. */
export function bundleEntries(input: BundleWriteInput): TarInputEntry[] {
  const order = orderArtifacts(input.artifacts.map((a) => a.name));
  const out = headEntries(input);
  for (const i of order) {
    const a = input.artifacts[i]!;
    if (a.bytes === undefined || a.file !== undefined) {
      throw new BundleError(
        'BUNDLE_ARTIFACT_INVALID',
        `artifacts.${i}: give the artifact as bytes here (files are written by the Node face)`,
        { path: `artifacts.${i}` },
      );
    }
    out.push({
      path: `${BUNDLE_ARTIFACTS_DIR}/${a.name}`,
      type: 'file',
      executable: a.executable ?? false,
      content: a.bytes,
    });
  }
  return out;
}

/**
 * The bundle as `.tar.gz` bytes (Web `CompressionStream`), for artifacts given as bytes. The same
 * input gives the same bytes on the same runtime.
 */
export async function encodeBundle(input: BundleWriteInput): Promise<Uint8Array> {
  const tar = await collect(writeTar(bundleEntries(input), { mtime: 0 }));
  const cs = new CompressionStream('gzip');
  const writer = cs.writable.getWriter();
  const done = writer.write(tar as Uint8Array<ArrayBuffer>).then(() => writer.close());
  const out = await collect(fromReadable(cs.readable));
  await done;
  return out;
}
