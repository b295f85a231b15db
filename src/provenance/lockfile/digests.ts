/**
 * Lockfile checksum notations and their in-toto DigestSet form
 * (https://github.com/in-toto/attestation/blob/main/spec/v1/digest_set.md).
 */
import { fromBase64, toHex } from '../../util/encoding.js';
import { purl } from './purl.js';
import type { LockedDependency, ResourceDescriptor } from '../types.js';

/** SRI hash algorithms npm writes, strongest first, with their digest lengths in bytes. */
export const SRI_ALGORITHMS = { sha512: 64, sha384: 48, sha256: 32, sha1: 20 } as const;
export type SriAlgorithm = keyof typeof SRI_ALGORITHMS;

/** One hash of a Subresource Integrity string. */
export interface SriHash {
  algorithm: SriAlgorithm;
  digest: Uint8Array;
}

/**
 * Parses a Subresource Integrity value (W3C SRI §3.5: space-separated `<alg>-<base64>`, options
 * after `?` ignored) as npm writes it. Returns null when any hash is malformed or none is known.
 */
export function parseSri(value: string): SriHash[] | null {
  const out: SriHash[] = [];
  for (const token of value.trim().split(/\s+/)) {
    const m = /^([a-z0-9]+)-([A-Za-z0-9+/=]+)(\?.*)?$/.exec(token);
    if (m === null) return null;
    const algorithm = m[1] as SriAlgorithm;
    if (!(algorithm in SRI_ALGORITHMS)) continue; // unknown algorithms are ignored (SRI §3.3.3)
    const digest = fromBase64(m[2]!);
    if (digest === null || digest.length !== SRI_ALGORITHMS[algorithm]) return null;
    out.push({ algorithm, digest });
  }
  return out.length > 0 ? out : null;
}

/** The strongest hash of an SRI value (what a tarball is checked against), or null. */
export function strongestSri(value: string): SriHash | null {
  const all = parseSri(value);
  if (all === null) return null;
  for (const a of Object.keys(SRI_ALGORITHMS) as SriAlgorithm[]) {
    const h = all.find((x) => x.algorithm === a);
    if (h !== undefined) return h;
  }
  return null;
}

/** The 32-byte SHA-256 of a `h1:<base64>` Go checksum (Go module reference, "go.sum files"). */
export function parseGoH1(value: string): Uint8Array | null {
  if (!value.startsWith('h1:')) return null;
  const d = fromBase64(value.slice(3));
  return d !== null && d.length === 32 ? d : null;
}

/** The hex digest of a Cargo `sha256:<hex>` checksum. */
export function parseCargoDigest(value: string): string | null {
  const m = /^sha256:([0-9a-f]{64})$/.exec(value);
  return m === null ? null : m[1]!;
}

/**
 * Whether a dependency carries a lockfile checksum that tee-compile verifies: registry packages
 * with a digest, and Go modules of which only go.mod is locked.
 */
export function isPinned(dep: LockedDependency): boolean {
  return dep.kind === 'registry' && (dep.digest !== null || dep.goModDigest !== undefined);
}

/**
 * The in-toto resource descriptors of a dependency, as written in `resolvedDependencies` and as
 * leaves of the input Merkle tree: `uri` is the purl, `digest` uses in-toto's algorithm names
 * (`sha512`/`sha384`/`sha256`/`sha1` hex for npm, `sha256` for crates, `dirHash` — Go's Hash1 in
 * hex without `h1:` — for Go). A Go module gives one descriptor for its zip and one for its
 * go.mod (purl subpath `go.mod`). Unpinned dependencies have no digest; their kind and source are
 * annotations.
 */
export function dependencyDescriptors(dep: LockedDependency): ResourceDescriptor[] {
  if (!isPinned(dep)) {
    const annotations: Record<string, unknown> = { kind: dep.kind };
    if (dep.source !== undefined) annotations.source = dep.source;
    return [{ name: dep.name, uri: dep.purl, annotations }];
  }
  const out: ResourceDescriptor[] = [];
  switch (dep.ecosystem) {
    case 'npm': {
      const digest: Record<string, string> = {};
      for (const h of parseSri(dep.digest!) ?? []) digest[h.algorithm] = toHex(h.digest);
      out.push({ name: dep.name, uri: dep.purl, digest });
      break;
    }
    case 'cargo':
      out.push({
        name: dep.name,
        uri: dep.purl,
        digest: { sha256: parseCargoDigest(dep.digest!)! },
      });
      break;
    case 'go':
      if (dep.digest !== null) {
        out.push({
          name: dep.name,
          uri: dep.purl,
          digest: { dirHash: toHex(parseGoH1(dep.digest)!) },
        });
      }
      if (dep.goModDigest !== undefined) {
        out.push({
          name: `${dep.name}/go.mod`,
          uri: purl('go', dep.name, dep.version, { subpath: 'go.mod' }),
          digest: { dirHash: toHex(parseGoH1(dep.goModDigest)!) },
        });
      }
      break;
  }
  return out;
}
