/**
 * npm dependency sets. On the host: tarballs downloaded from the registry by their lockfile
 * integrity. In the enclave: a fresh npm cache built from verified tarballs only, so that
 * `npm ci --offline` installs exactly the locked packages with no network.
 *
 * The cache uses npm's own formats (cacache: `content-v2/<alg>/<hex…>` by integrity, and
 * `index-v5` entries written the way make-fetch-happen stores HTTP responses). Lockfiles written
 * with `omit-lockfile-registry-resolved` carry no tarball URL, so npm asks the registry for the
 * package document first: the cache therefore also holds, per package, a minimal package
 * document generated from the lockfile (name, version, dist.tarball, dist.integrity) — nothing in
 * it comes from the host.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { bytesEqual } from '../../util/hex.js';
import { listSome, provenanceError } from '../errors.js';
import type { LockedDependency } from '../types.js';
import { downloadVerified, eachLimited } from './download.js';
import { takeHashing, writeNewFile } from './files.js';
import type { NodeHash } from './files.js';
import type { ExpectedArtifact, PreparedEcosystem } from './layout.js';

/** The public npm registry. */
export const NPM_REGISTRY = 'https://registry.npmjs.org/';
/** Tarballs (and package documents) checked and written into the npm cache at once. */
export const PREPARE_CONCURRENCY = 8;
/** Largest npm tarball accepted. */
export const MAX_NPM_TARBALL_BYTES = 1024 * 1024 * 1024;

function withSlash(registry: string): string {
  return registry.endsWith('/') ? registry : `${registry}/`;
}

/** The registry tarball URL of a package version (`<registry>/@scope/name/-/name-1.0.0.tgz`). */
export function npmTarballUrl(registry: string, name: string, version: string): string {
  const base = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return `${withSlash(registry)}${name}/-/${base}-${version}.tgz`;
}

/** The registry URL of a package document, as npm requests it (scope separator escaped). */
export function npmPackumentUrl(registry: string, name: string): string {
  return `${withSlash(registry)}${name.replace('/', '%2f')}`;
}

/** Where the host fetches a dependency: the lockfile's `resolved` URL, else the registry. */
function fetchUrl(dep: LockedDependency, registry: string): string {
  return dep.source !== undefined && /^https?:\/\//.test(dep.source)
    ? dep.source
    : npmTarballUrl(registry, dep.name, dep.version);
}

/** Downloads every npm tarball of `artifacts` into `outDir`. */
export async function fetchNpm(
  artifacts: readonly ExpectedArtifact[],
  outDir: string,
  opts: { registry: string; concurrency: number },
): Promise<number> {
  let bytes = 0;
  await eachLimited(artifacts, opts.concurrency, async (a) => {
    const dep = a.deps[0]!;
    bytes += await downloadVerified(
      fetchUrl(dep, opts.registry),
      outDir,
      a.path,
      a.algorithm as NodeHash,
      a.digest,
      MAX_NPM_TARBALL_BYTES,
      `${dep.name}@${dep.version}`,
    );
  });
  return bytes;
}

/** cacache content path of a digest. */
function contentPath(cache: string, algorithm: string, hex: string): string {
  return join(cache, 'content-v2', algorithm, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

/**
 * Appends an index entry as cacache's `index.insert` writes it: `\n<sha1(json)>\t<json>`
 * (synchronously, as files.ts explains).
 */
function indexEntry(
  cache: string,
  key: string,
  integrity: string,
  size: number,
  metadata: Record<string, unknown>,
): void {
  const bucket = createHash('sha256').update(key).digest('hex');
  const file = join(cache, 'index-v5', bucket.slice(0, 2), bucket.slice(2, 4), bucket.slice(4));
  const json = JSON.stringify({ key, integrity, time: 0, size, metadata });
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `\n${createHash('sha1').update(json).digest('hex')}\t${json}`);
}

/** The `Accept` headers pacote sends for package documents (abbreviated "corgi", and full). */
const PACKUMENT_ACCEPTS = [
  'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*',
  'application/json',
];

function cacheKey(url: string): string {
  return `make-fetch-happen:request-cache:${url}`;
}

/**
 * Builds the npm cache in `outDir/npm-cache` from the verified tarballs of `depset` (moved there
 * when `consume`, else copied), and returns the environment for `npm ci --offline`. A tarball whose bytes differ from its integrity is
 * refused (DEPENDENCY_DIGEST_MISMATCH) before anything is built from it.
 */
export async function prepareNpm(
  depset: string,
  artifacts: readonly ExpectedArtifact[],
  outDir: string,
  registry: string,
  consume = false,
): Promise<PreparedEcosystem> {
  const root = join(outDir, 'npm-cache');
  const cache = join(root, '_cacache');
  const packuments = new Map<string, Map<string, { tarball: string; integrity: string }>>();
  // Each artifact is its own files (its content path, its URLs' index buckets): several at once
  // keep the disk and the hashing busy instead of waiting on one small file at a time.
  await eachLimited(artifacts, PREPARE_CONCURRENCY, async (a) => {
    const hex = Buffer.from(a.digest).toString('hex');
    const dest = contentPath(cache, a.algorithm, hex);
    const { digests, size } = await takeHashing(
      consume,
      join(depset, a.path),
      dest,
      [a.algorithm as NodeHash],
      MAX_NPM_TARBALL_BYTES,
    );
    const got = digests.get(a.algorithm as NodeHash)!;
    if (!bytesEqual(got, a.digest)) {
      throw provenanceError(
        'DEPENDENCY_DIGEST_MISMATCH',
        `${listSome(a.deps.map((d) => `${d.name}@${d.version}`))}: ${a.path} has ${a.algorithm} ${got.toString('hex')}, the lockfile pins ${hex}`,
        a.path,
      );
    }
    for (const dep of a.deps) {
      const integrity = dep.digest!;
      const urls = new Set([npmTarballUrl(registry, dep.name, dep.version)]);
      if (dep.source !== undefined && /^https?:\/\//.test(dep.source)) urls.add(dep.source);
      for (const url of [...urls].sort()) {
        indexEntry(cache, cacheKey(url), integrity, size, {
          time: 0,
          url,
          reqHeaders: {},
          resHeaders: { 'content-type': 'application/octet-stream' },
          options: { compress: true },
        });
      }
      const versions =
        packuments.get(dep.name) ?? new Map<string, { tarball: string; integrity: string }>();
      versions.set(dep.version, {
        tarball: npmTarballUrl(registry, dep.name, dep.version),
        integrity,
      });
      packuments.set(dep.name, versions);
    }
  });
  await eachLimited([...packuments.keys()].sort(), PREPARE_CONCURRENCY, async (name) => {
    const versions: Record<string, unknown> = {};
    for (const [version, dist] of [...packuments.get(name)!].sort(([a], [b]) => (a < b ? -1 : 1))) {
      versions[version] = { name, version, dist };
    }
    const body = Buffer.from(JSON.stringify({ name, 'dist-tags': {}, versions }));
    const sha512 = createHash('sha512').update(body).digest();
    await writeNewFile(contentPath(cache, 'sha512', sha512.toString('hex')), body).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      },
    );
    const url = npmPackumentUrl(registry, name);
    for (const accept of PACKUMENT_ACCEPTS) {
      indexEntry(cache, cacheKey(url), `sha512-${sha512.toString('base64')}`, body.length, {
        time: 0,
        url,
        reqHeaders: { accept },
        resHeaders: { 'content-type': 'application/json' },
        options: { compress: true },
      });
    }
  });
  await mkdir(cache, { recursive: true });
  return {
    env: {
      npm_config_cache: root,
      npm_config_offline: 'true',
      npm_config_registry: withSlash(registry),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
    dirs: [{ path: root, writable: true, purpose: 'npm cache (verified tarballs)' }],
  };
}
