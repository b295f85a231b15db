/**
 * Cargo.lock, format versions 3 and 4 (cargo's `ResolveVersion`; the file layout is described in
 * https://doc.rust-lang.org/cargo/guide/cargo-toml-vs-cargo-lock.html). Pure: parses a string.
 */
import { provenanceError } from '../errors.js';
import { byPurl } from './npm.js';
import { purl } from './purl.js';
import { TomlError, parseTomlLock } from './toml.js';
import type { TomlTable, TomlValue } from './toml.js';
import type { LockedDependency } from '../types.js';

/** The crates.io index as Cargo.lock names it, whatever protocol fetched it. */
export const CRATES_IO_SOURCE = 'registry+https://github.com/rust-lang/crates.io-index';
const CRATES_IO_SPARSE = 'sparse+https://index.crates.io/';

const CRATE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const SEMVER_RE = /^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

function str(v: TomlValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Parses a Cargo.lock (v3 or v4) into its locked dependencies. Packages without `source` are
 * workspace members or path dependencies: part of the source, not listed.
 */
export function parseCargoLock(text: string, file = 'Cargo.lock'): LockedDependency[] {
  let doc: TomlTable;
  try {
    doc = parseTomlLock(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    throw provenanceError(
      'LOCKFILE_MALFORMED',
      `${file}: ${err.message}; regenerate it with \`cargo generate-lockfile\``,
      undefined,
      err,
    );
  }
  const version = doc.version;
  // A v1/v2 lockfile of local packages only (no `source`, no checksums) pins nothing that v3
  // would write otherwise: a crate without dependencies builds unchanged from it.
  const localOnly =
    version === undefined &&
    doc.metadata === undefined &&
    Array.isArray(doc.package) &&
    doc.package.every(
      (t) =>
        t !== null && typeof t === 'object' && (t as Record<string, unknown>).source === undefined,
    );
  if (version === undefined && !localOnly) {
    throw provenanceError(
      'LOCKFILE_UNSUPPORTED',
      `${file}: lockfile format v1/v2 (no \`version\`) is not supported; regenerate it with cargo >= 1.53 (\`cargo generate-lockfile\`) and commit it`,
      'version',
    );
  }
  if (!localOnly && version !== 3 && version !== 4) {
    throw provenanceError(
      typeof version === 'number' ? 'LOCKFILE_UNSUPPORTED' : 'LOCKFILE_MALFORMED',
      `${file}: lockfile format version ${JSON.stringify(version)} is not supported; expected 3 or 4${
        typeof version === 'number' && version < 3
          ? ' (regenerate it with cargo >= 1.53: `cargo generate-lockfile`)'
          : ''
      }`,
      'version',
    );
  }
  const packages = doc.package ?? [];
  if (!Array.isArray(packages)) {
    throw provenanceError(
      'LOCKFILE_MALFORMED',
      `${file}: \`package\` must be an array of tables ([[package]])`,
      'package',
    );
  }
  const out = new Map<string, LockedDependency>();
  packages.forEach((p, i) => {
    const at = `package.${i}`;
    if (typeof p !== 'object' || Array.isArray(p)) {
      throw provenanceError('LOCKFILE_MALFORMED', `${file}: ${at} must be a table`, at);
    }
    const t = p;
    const name = str(t.name);
    const ver = str(t.version);
    if (name === undefined || !CRATE_NAME_RE.test(name)) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}.name must be a crate name`,
        `${at}.name`,
      );
    }
    if (ver === undefined || !SEMVER_RE.test(ver)) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}.version must be a semver version`,
        `${at}.version`,
      );
    }
    const source = t.source;
    if (source === undefined) return; // workspace member or path dependency: part of the source
    if (typeof source !== 'string') {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}.source must be a string`,
        `${at}.source`,
      );
    }
    const checksum = t.checksum;
    if (
      checksum !== undefined &&
      (typeof checksum !== 'string' || !/^[0-9a-f]{64}$/.test(checksum))
    ) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}.checksum must be 64 lower-case hex digits (SHA-256 of the .crate)`,
        `${at}.checksum`,
      );
    }
    let dep: LockedDependency;
    if (source.startsWith('registry+') || source.startsWith('sparse+')) {
      const cratesIo = source === CRATES_IO_SOURCE || source === CRATES_IO_SPARSE;
      dep = {
        ecosystem: 'cargo',
        name,
        version: ver,
        purl: purl('cargo', name, ver, cratesIo ? {} : { qualifiers: { repository_url: source } }),
        digest: checksum === undefined ? null : `sha256:${checksum}`,
        kind: 'registry',
        source,
      };
    } else if (source.startsWith('git+')) {
      dep = {
        ecosystem: 'cargo',
        name,
        version: ver,
        purl: purl('cargo', name, ver, { qualifiers: { vcs_url: source } }),
        digest: null,
        kind: 'git',
        source,
      };
    } else {
      throw provenanceError(
        'LOCKFILE_UNSUPPORTED',
        `${file}: ${at}.source ${JSON.stringify(source)} is neither a registry nor a git source`,
        `${at}.source`,
      );
    }
    const key = `${dep.purl}\0${dep.source ?? ''}`;
    if (out.has(key)) {
      throw provenanceError('LOCKFILE_MALFORMED', `${file}: ${name} ${ver} is listed twice`, at);
    }
    out.set(key, dep);
  });
  return [...out.values()].sort(byPurl);
}
