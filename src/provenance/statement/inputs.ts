/**
 * The build's inputs as in-toto resource descriptors, and the Merkle root over them that the
 * provenance records as `internalParameters.inputMerkleRoot`.
 *
 * Leaves, in this order: (1) the source, (2) the build configuration, (3) every dependency
 * descriptor, sorted by `uri` (the purl), ties by leaf bytes. Each leaf is the RFC 8785 canonical
 * JSON (UTF-8) of the descriptor. Toolchain binaries are not leaves: they are pinned by the image
 * PCRs, and leaving them out lets `tee-compile inputs` on a host compute the same root the enclave
 * records. A verifier recomputes the root from the statement alone (`statementInputMerkleRoot`).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalJson, canonicalJsonBytes } from './canonical-json.js';
import { dependencyDescriptors } from '../lockfile/digests.js';
import { toHex, utf8 } from '../../util/encoding.js';
import { merkleRoot } from './merkle.js';
import type {
  BuildConfig,
  LockedDependency,
  ResourceDescriptor,
  SourceIdentity,
} from '../types.js';

/** Name of the build configuration leaf at the source root. */
export const BUILD_CONFIG_LEAF_NAME = 'build.json';

/** Whether a work directory is `.` or a clean relative path inside the source root. */
export function isValidWorkdir(workdir: string): boolean {
  if (workdir === '.') return true;
  return (
    !workdir.startsWith('/') &&
    !workdir.includes('\\') &&
    !workdir.includes('\0') &&
    workdir.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
  );
}

/**
 * The source as a resource descriptor: `uri` `git+<repository>@<commit>` (when both are known),
 * digest `{gitCommit, gitTree}` (in-toto DigestSet names).
 */
export function sourceDescriptor(source: SourceIdentity): ResourceDescriptor {
  const digest: Record<string, string> = { gitTree: source.tree };
  if (source.commit !== null) digest.gitCommit = source.commit;
  const d: ResourceDescriptor = { name: 'source', digest };
  if (source.repository !== undefined && source.commit !== null) {
    d.uri = `git+${source.repository}@${source.commit}`;
  }
  return d;
}

/** SHA-256 (hex) of the canonical JSON of the normalised build configuration. */
export function buildConfigDigest(config: BuildConfig): string {
  return toHex(sha256(utf8(canonicalJson(config))));
}

/**
 * The build configuration leaf: `{name: "<workdir>/build.json", digest: {sha256}}` (just
 * `build.json` at the source root), so that the leaf also fixes where the command runs.
 */
export function buildConfigDescriptor(config: BuildConfig, workdir = '.'): ResourceDescriptor {
  const name = workdir === '.' ? BUILD_CONFIG_LEAF_NAME : `${workdir}/${BUILD_CONFIG_LEAF_NAME}`;
  return { name, digest: { sha256: buildConfigDigest(config) } };
}

function byUriThenBytes(a: ResourceDescriptor, b: ResourceDescriptor): number {
  const ua = a.uri ?? '';
  const ub = b.uri ?? '';
  if (ua !== ub) return ua < ub ? -1 : 1;
  const ca = canonicalJson(a);
  const cb = canonicalJson(b);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/** Every dependency's descriptors, sorted as the Merkle leaves and resolvedDependencies list them. */
export function dependencyDescriptorList(deps: readonly LockedDependency[]): ResourceDescriptor[] {
  return deps.flatMap(dependencyDescriptors).sort(byUriThenBytes);
}

/**
 * The input descriptors in leaf order: source, build configuration, dependencies by purl.
 * `workdir` is the directory of build.json relative to the source root.
 */
export function inputDescriptors(
  source: SourceIdentity,
  config: BuildConfig,
  deps: readonly LockedDependency[],
  workdir = '.',
): ResourceDescriptor[] {
  return [
    sourceDescriptor(source),
    buildConfigDescriptor(config, workdir),
    ...dependencyDescriptorList(deps),
  ];
}

/** The Merkle leaves (canonical JSON bytes of each descriptor). */
export function inputMerkleLeaves(descriptors: readonly ResourceDescriptor[]): Uint8Array[] {
  return descriptors.map((d) => canonicalJsonBytes(d));
}

/** Hex root of the input Merkle tree of a build. */
export function inputMerkleRoot(
  source: SourceIdentity,
  config: BuildConfig,
  deps: readonly LockedDependency[],
  workdir = '.',
): string {
  return toHex(merkleRoot(inputMerkleLeaves(inputDescriptors(source, config, deps, workdir))));
}

/** Hex root over already-built descriptors in leaf order. */
export function merkleRootOfDescriptors(descriptors: readonly ResourceDescriptor[]): string {
  return toHex(merkleRoot(inputMerkleLeaves(descriptors)));
}

/** Marks a toolchain descriptor (excluded from the Merkle root). */
export function isToolchainDescriptor(d: ResourceDescriptor): boolean {
  return d.annotations?.toolchain === true;
}

/** Sorts descriptors into leaf order (used by the statement checks). */
export function sortDependencyDescriptors(ds: readonly ResourceDescriptor[]): ResourceDescriptor[] {
  return [...ds].sort(byUriThenBytes);
}
