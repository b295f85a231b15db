/**
 * Which lockfile each language uses, and parsing it from file contents. Pure: the caller reads
 * the files (see `readLockedDependencies` in ./node.ts).
 */
import { provenanceError } from '../errors.js';
import { parseCargoLock } from './cargo.js';
import { parseGoLock, parseGoMod } from './go.js';
import { parsePackageLock } from './npm.js';
import type { BuildConfig, LockedDependency } from '../types.js';
import type { NpmPlatform } from './platform.js';

export type Language = BuildConfig['language'];

/** Files read per language, in order of preference (npm prefers npm-shrinkwrap.json). */
export const LOCKFILE_NAMES: Record<Language, readonly string[]> = {
  node: ['npm-shrinkwrap.json', 'package-lock.json', 'package.json', 'yarn.lock', 'pnpm-lock.yaml'],
  rust: ['Cargo.lock', 'Cargo.toml'],
  go: ['go.mod', 'go.sum', 'vendor/modules.txt'],
};

/** File contents by name (absent files undefined). */
export type LockfileContents = Partial<Record<string, string>>;

function hasNpmDependencies(packageJson: string | undefined): boolean {
  if (packageJson === undefined) return false;
  try {
    const p = JSON.parse(packageJson) as Record<string, unknown>;
    return ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].some(
      (k) => typeof p[k] === 'object' && p[k] !== null && Object.keys(p[k]).length > 0,
    );
  } catch {
    return true; // let npm report the broken package.json; a lockfile is still required
  }
}

/**
 * Parses the lockfile of `language` from the given file contents: package-lock.json or
 * npm-shrinkwrap.json (v2/v3), Cargo.lock (v3/v4), go.sum with go.mod. `workdir` is where the
 * files sit relative to the source root (`.` by default): paths that stay inside the source root
 * are part of the source. `platform` leaves out the optional npm packages npm would not install
 * there (./platform.ts).
 */
export function parseLockedDependencies(
  language: Language,
  files: LockfileContents,
  opts: { workdir?: string; platform?: NpmPlatform } = {},
): LockedDependency[] {
  switch (language) {
    case 'node': {
      for (const name of ['npm-shrinkwrap.json', 'package-lock.json']) {
        const text = files[name];
        if (text !== undefined) return parsePackageLock(text, name, opts);
      }
      for (const other of ['yarn.lock', 'pnpm-lock.yaml']) {
        if (files[other] !== undefined) {
          throw provenanceError(
            'LOCKFILE_UNSUPPORTED',
            `${other} is not supported yet; tee-compile reads package-lock.json (create one with \`npm install --package-lock-only\` and commit it)`,
            other,
          );
        }
      }
      if (!hasNpmDependencies(files['package.json'])) return [];
      throw provenanceError(
        'LOCKFILE_MISSING',
        'package-lock.json is missing; run `npm install --package-lock-only` and commit package-lock.json',
        'package-lock.json',
      );
    }
    case 'rust': {
      const text = files['Cargo.lock'];
      if (text === undefined) {
        throw provenanceError(
          'LOCKFILE_MISSING',
          'Cargo.lock is missing; run `cargo generate-lockfile` and commit Cargo.lock',
          'Cargo.lock',
        );
      }
      return parseCargoLock(text);
    }
    case 'go': {
      const mod = files['go.mod'];
      if (mod === undefined) {
        throw provenanceError(
          'LOCKFILE_MISSING',
          'go.mod is missing; run `go mod init <module>` and commit go.mod',
          'go.mod',
        );
      }
      // Vendored modules (`go mod vendor`) are committed: they are part of the verified source
      // tree, so nothing is fetched; go.mod is still parsed (and so checked). The build uses them
      // with GOFLAGS=-mod=vendor in input.env.
      if (files['vendor/modules.txt'] !== undefined) {
        parseGoMod(mod);
        return [];
      }
      return parseGoLock(mod, files['go.sum'] ?? null, opts);
    }
  }
}
