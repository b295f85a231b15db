/**
 * Writing side of the bundle layout, pure: artifact name checks, the fixed member order, and the
 * whole bundle as bytes (for browsers and tests; the Node face streams files from disk instead).
 */
import type { TarInputEntry } from '../archive/index.js';
import { writeTar } from '../archive/index.js';
import { collect, compareUtf8, fromReadable } from '../util/bytes.js';
import { BundleError } from './errors.js';
import { BUNDLE_GZIP_HEADER } from './gzip.js';
import { ArtifactNames, FIXED_MEMBERS, artifactNameProblem } from './members.js';
import type { BundleWriteInput } from './types.js';
import { BUNDLE_ARTIFACTS_DIR } from './types.js';

/** Bytewise order of the UTF-8 encodings (what `LC_ALL=C sort` gives), not UTF-16 order. */
export const compareBytewise = compareUtf8;

/**
 * Checks that artifact names are what the reader accepts (`artifactNameProblem`: normalised
 * relative paths without control characters), unique, and distinct on case-insensitive and
 * Unicode-normalising file systems, and returns the indices in bytewise name order.
 */
export function orderArtifacts(names: readonly string[]): number[] {
  names.forEach((name, i) => {
    const problem = artifactNameProblem(name);
    if (problem !== null) {
      const path = `artifacts.${i}.name`;
      throw new BundleError(
        'BUNDLE_ARTIFACT_INVALID',
        `${path}: ${JSON.stringify(name)}: ${problem}`,
        {
          path,
        },
      );
    }
  });
  const order = names.map((_, i) => i).sort((a, b) => compareBytewise(names[a]!, names[b]!));
  const seen = new ArtifactNames();
  for (const i of order) {
    const clash = seen.add(names[i]!);
    if (clash !== null) {
      const path = `artifacts.${i}.name`;
      throw new BundleError('BUNDLE_ARTIFACT_INVALID', `${path}: ${clash}`, { path });
    }
  }
  return order;
}

/** The fixed members in their fixed order (`FIXED_MEMBERS`); an absent optional one is left out. */
export function headEntries(input: Omit<BundleWriteInput, 'artifacts'>): TarInputEntry[] {
  const out: TarInputEntry[] = [];
  for (const m of FIXED_MEMBERS) {
    const content = input[m.field];
    if (content === undefined) {
      if (!m.required) continue;
      throw new BundleError('BUNDLE_ARTIFACT_INVALID', `${m.field}: ${m.name} is required`, {
        path: m.field,
      });
    }
    out.push({ path: m.name, type: 'file', content });
  }
  return out;
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
  // The header as the Node writer emits it, whatever this runtime's zlib puts in XFL and OS.
  out.set(BUNDLE_GZIP_HEADER, 0);
  return out;
}
