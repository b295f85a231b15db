/**
 * The layout of a dependency set: every file is named by what pins it, so that the set can be
 * checked against the lockfile alone.
 *
 *   npm/<alg>-<hex>.tgz                  npm tarball, by its strongest SRI hash
 *   cargo/sha256-<hex>.crate             crate, by the Cargo.lock checksum
 *   go/<module>/@v/<version>.zip|.mod    Go module zip and go.mod, GOMODCACHE's cache/download
 *                                        layout (module path and version case-escaped)
 */
import { parseCargoDigest, parseGoH1, strongestSri, isPinned } from '../lockfile/digests.js';
import type { SriAlgorithm } from '../lockfile/digests.js';
import { toHex } from '../../util/encoding.js';
import { provenanceError } from '../errors.js';
import type { LockedDependency } from '../types.js';

export type ArtifactKind = 'npm-tarball' | 'crate' | 'go-zip' | 'go-mod';

/** A file the dependency set must contain, and what it must hash to. */
export interface ExpectedArtifact {
  /** Relative path inside the dependency set. */
  path: string;
  kind: ArtifactKind;
  /** `h1` for Go (dirhash Hash1), else the hash algorithm of the file bytes. */
  algorithm: SriAlgorithm | 'h1';
  digest: Uint8Array;
  /** The dependencies this file serves (several npm aliases can share one tarball). */
  deps: LockedDependency[];
}

/** What preparing one ecosystem's verified dependencies gives the build. */
export interface PreparedEcosystem {
  /** Variables to set for the build command. */
  env: Record<string, string>;
  /** Directories created from verified bytes (some must stay writable for the tools' caches). */
  dirs: { path: string; writable: boolean; purpose: string }[];
}

/**
 * Go's case-escaping of module paths and versions for the module cache and the proxy protocol
 * (golang.org/x/mod/module EscapePath): every upper-case letter becomes `!` + its lower case.
 */
export function goEscape(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** Where a Go module version's files live under a cache/download or proxy root. */
export function goModuleDir(module: string, version: string): { dir: string; base: string } {
  return { dir: `${goEscape(module)}/@v`, base: goEscape(version) };
}

function add(
  map: Map<string, ExpectedArtifact>,
  a: Omit<ExpectedArtifact, 'deps'>,
  dep: LockedDependency,
): void {
  const existing = map.get(a.path);
  if (existing !== undefined) existing.deps.push(dep);
  else map.set(a.path, { ...a, deps: [dep] });
}

/**
 * The files a dependency set must hold for these (pinned) dependencies, by path. Unpinned
 * dependencies contribute nothing.
 */
export function expectedArtifacts(
  deps: readonly LockedDependency[],
): Map<string, ExpectedArtifact> {
  const map = new Map<string, ExpectedArtifact>();
  for (const dep of deps) {
    if (!isPinned(dep)) continue;
    const bad = (): never => {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${dep.name}@${dep.version}: malformed checksum ${JSON.stringify(dep.digest)}`,
      );
    };
    switch (dep.ecosystem) {
      case 'npm': {
        const h = strongestSri(dep.digest!) ?? bad();
        add(
          map,
          {
            path: `npm/${h.algorithm}-${toHex(h.digest)}.tgz`,
            kind: 'npm-tarball',
            algorithm: h.algorithm,
            digest: h.digest,
          },
          dep,
        );
        break;
      }
      case 'cargo': {
        const hex = parseCargoDigest(dep.digest!) ?? bad();
        const digest = Uint8Array.from(Buffer.from(hex, 'hex'));
        add(
          map,
          { path: `cargo/sha256-${hex}.crate`, kind: 'crate', algorithm: 'sha256', digest },
          dep,
        );
        break;
      }
      case 'go': {
        const { dir, base } = goModuleDir(dep.name, dep.version);
        if (dep.digest !== null) {
          add(
            map,
            {
              path: `go/${dir}/${base}.zip`,
              kind: 'go-zip',
              algorithm: 'h1',
              digest: parseGoH1(dep.digest) ?? bad(),
            },
            dep,
          );
        }
        if (dep.goModDigest !== undefined) {
          add(
            map,
            {
              path: `go/${dir}/${base}.mod`,
              kind: 'go-mod',
              algorithm: 'h1',
              digest: parseGoH1(dep.goModDigest) ?? bad(),
            },
            dep,
          );
        }
        break;
      }
    }
  }
  return map;
}
