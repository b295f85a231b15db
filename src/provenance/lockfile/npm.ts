/**
 * package-lock.json / npm-shrinkwrap.json, lockfile versions 2 and 3
 * (https://docs.npmjs.com/cli/v10/configuring-npm/package-lock-json). Pure: parses a string.
 */
import { provenanceError } from '../errors.js';
import { purl } from './purl.js';
import { parseSri } from './digests.js';
import type { LockedDependency } from '../types.js';
import type { NpmPlatform } from './platform.js';
import { fitsPlatform } from './platform.js';

interface PackageEntry {
  name?: unknown;
  version?: unknown;
  resolved?: unknown;
  integrity?: unknown;
  link?: unknown;
  inBundle?: unknown;
  optional?: unknown;
  os?: unknown;
  cpu?: unknown;
  libc?: unknown;
}

/** npm package names (validate-npm-package-name, lower-case since npm 3). */
const NAME_RE = /^(?:@[a-z0-9~][a-z0-9._~-]*\/)?[a-z0-9~][a-z0-9._~-]*$/i;

/**
 * True when `rel`, relative to `workdir` (itself relative to the source root, `.` for the root),
 * stays inside the source root.
 */
export function staysInside(rel: string, workdir = '.'): boolean {
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || rel.includes('\\')) return false;
  let depth = 0;
  for (const part of `${workdir}/${rel}`.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    if (depth < 0) return false;
  }
  return true;
}

function isGitSpec(resolved: string): boolean {
  return /^(git\+|git:|github:|gitlab:|bitbucket:|gist:)/.test(resolved);
}

/**
 * Parses a package-lock.json (v2 or v3) into its locked dependencies. Workspace members and links
 * to folders inside the source tree (the repository; the lockfile sits in `workdir`) are part of
 * the source and not listed; bundled dependencies
 * travel inside their parent's tarball and are not listed either. With `platform`, optional
 * packages npm would not install there (their `os`, `cpu` or `libc`, see ./platform.ts) are not
 * listed: `npm ci` neither fetches nor installs them.
 */
export function parsePackageLock(
  text: string,
  file = 'package-lock.json',
  opts: { workdir?: string; platform?: NpmPlatform } = {},
): LockedDependency[] {
  const workdir = opts.workdir ?? '.';
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw provenanceError(
      'LOCKFILE_MALFORMED',
      `${file}: not valid JSON (${(err as Error).message}); regenerate it with \`npm install --package-lock-only\``,
      undefined,
      err,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw provenanceError('LOCKFILE_MALFORMED', `${file}: expected a JSON object`);
  }
  const lock = doc as { lockfileVersion?: unknown; packages?: unknown };
  const v = lock.lockfileVersion;
  if (v === 1) {
    throw provenanceError(
      'LOCKFILE_UNSUPPORTED',
      `${file}: lockfileVersion 1 is not supported; regenerate it with npm >= 7 (\`npm install --package-lock-only\`) and commit it`,
      'lockfileVersion',
    );
  }
  if (v !== 2 && v !== 3) {
    throw provenanceError(
      typeof v === 'number' ? 'LOCKFILE_UNSUPPORTED' : 'LOCKFILE_MALFORMED',
      `${file}: lockfileVersion ${JSON.stringify(v)} is not supported; expected 2 or 3`,
      'lockfileVersion',
    );
  }
  const packages = lock.packages;
  if (typeof packages !== 'object' || packages === null || Array.isArray(packages)) {
    throw provenanceError(
      'LOCKFILE_MALFORMED',
      `${file}: \`packages\` must be an object`,
      'packages',
    );
  }
  const seen = new Map<string, LockedDependency>();
  for (const [key, raw] of Object.entries(packages as Record<string, unknown>)) {
    const at = `packages.${JSON.stringify(key)}`;
    if (key === '') continue; // the root project
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw provenanceError('LOCKFILE_MALFORMED', `${file}: ${at} must be an object`, at);
    }
    const e = raw as PackageEntry;
    const nm = key.lastIndexOf('node_modules/');
    // Entries that are not under node_modules are folders (workspace members, link targets):
    // inside the tree they are source, outside they are reported by the link that points to them.
    if (nm < 0) continue;
    if (e.inBundle === true) continue;
    if (e.optional === true && opts.platform !== undefined && !fitsPlatform(e, opts.platform))
      continue;
    const name = typeof e.name === 'string' ? e.name : key.slice(nm + 'node_modules/'.length);
    if (!NAME_RE.test(name)) {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}: invalid package name ${JSON.stringify(name)}`,
        at,
      );
    }
    const resolved = e.resolved === undefined ? undefined : e.resolved;
    if (resolved !== undefined && typeof resolved !== 'string') {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}.resolved must be a string`,
        `${at}.resolved`,
      );
    }
    if (e.link === true) {
      if (resolved === undefined) {
        throw provenanceError(
          'LOCKFILE_MALFORMED',
          `${file}: ${at} is a link without \`resolved\``,
          at,
        );
      }
      if (staysInside(resolved, workdir)) continue; // a workspace member: part of the source
      add(seen, {
        ecosystem: 'npm',
        name,
        version: typeof e.version === 'string' ? e.version : '0.0.0',
        purl: purl('npm', name, typeof e.version === 'string' ? e.version : '0.0.0'),
        digest: null,
        kind: 'link',
        source: resolved,
      });
      continue;
    }
    if (typeof e.version !== 'string' || e.version === '') {
      throw provenanceError(
        'LOCKFILE_MALFORMED',
        `${file}: ${at}.version must be a non-empty string`,
        `${at}.version`,
      );
    }
    const version = e.version;
    let integrity: string | null = null;
    if (e.integrity !== undefined) {
      if (typeof e.integrity !== 'string' || parseSri(e.integrity) === null) {
        throw provenanceError(
          'LOCKFILE_MALFORMED',
          `${file}: ${at}.integrity must be a Subresource Integrity string such as "sha512-<base64>"`,
          `${at}.integrity`,
        );
      }
      integrity = e.integrity;
    }
    if (resolved !== undefined && isGitSpec(resolved)) {
      add(seen, {
        ecosystem: 'npm',
        name,
        version,
        purl: purl('npm', name, version, { qualifiers: { vcs_url: resolved } }),
        digest: null,
        kind: 'git',
        source: resolved,
      });
      continue;
    }
    if (resolved !== undefined && resolved.startsWith('file:')) {
      // A tarball or folder referenced by path: inside the tree it is source (npm checks the
      // tarball's integrity itself at install), outside it cannot be verified.
      if (staysInside(resolved.slice('file:'.length), workdir)) continue;
      add(seen, {
        ecosystem: 'npm',
        name,
        version,
        purl: purl('npm', name, version),
        digest: null,
        kind: 'path',
        source: resolved,
      });
      continue;
    }
    if (resolved !== undefined && !/^https?:\/\//.test(resolved)) {
      throw provenanceError(
        'LOCKFILE_UNSUPPORTED',
        `${file}: ${at}.resolved ${JSON.stringify(resolved)} is neither a registry URL, a git URL nor a file: path`,
        `${at}.resolved`,
      );
    }
    const dep: LockedDependency = {
      ecosystem: 'npm',
      name,
      version,
      purl: purl('npm', name, version),
      digest: integrity,
      kind: 'registry',
    };
    if (resolved !== undefined) dep.source = resolved;
    add(seen, dep);
  }
  return [...seen.values()].sort(byPurl);
}

function add(seen: Map<string, LockedDependency>, d: LockedDependency): void {
  const k = `${d.purl}\0${d.digest ?? ''}\0${d.kind}\0${d.source ?? ''}`;
  if (!seen.has(k)) seen.set(k, d);
}

/** Orders dependencies by purl, then by source (bytewise on UTF-16, stable across runtimes). */
export function byPurl(a: LockedDependency, b: LockedDependency): number {
  const x = a.purl < b.purl ? -1 : a.purl > b.purl ? 1 : 0;
  if (x !== 0) return x;
  const sa = a.source ?? '';
  const sb = b.source ?? '';
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}
