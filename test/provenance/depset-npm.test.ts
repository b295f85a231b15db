import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  cpSync,
  readdirSync,
  rmSync,
  writeFileSync,
  appendFileSync,
  existsSync,
  readlinkSync,
  linkSync,
} from 'node:fs';
import { join } from 'node:path';
import { parsePackageLock } from '../../src/provenance/index.js';
import type { LockedDependency } from '../../src/provenance/index.js';
import {
  checkDependencySet,
  fetchDependencySet,
  readLockedDependencies,
} from '../../src/provenance/node.js';
import { tempDir, writeFiles } from '../support/source/provenance-git.js';
import { runOffline } from '../support/source/provenance-depset.js';

// A real lockfile written by npm with omit-lockfile-registry-resolved (no `resolved` fields),
// for is-number, @sindresorhus/is (scoped) and semver (with a bin and two dependencies).
const project = new URL('../fixtures/provenance/npm-v3', import.meta.url).pathname;

let depset: string;
let deps: LockedDependency[];

beforeAll(async () => {
  depset = join(tempDir('prov-npm-set-'), 'set');
  const r = await fetchDependencySet(project, 'node', depset);
  deps = r.dependencies;
});

function copySet(): string {
  const copy = join(tempDir('prov-npm-copy-'), 'set');
  cpSync(depset, copy, { recursive: true });
  return copy;
}

describe('npm dependency sets', () => {
  it('when fetched from the registry, the set holds each tarball under its integrity', () => {
    expect(deps).toHaveLength(5);
    expect(readdirSync(join(depset, 'npm'))).toHaveLength(5);
    expect(
      readdirSync(join(depset, 'npm')).every((f) => /^sha512-[0-9a-f]{128}\.tgz$/.test(f)),
    ).toBe(true);
  });

  it('when checked, it builds an npm cache from verified tarballs and real `npm ci` installs offline from it', async () => {
    const out = join(tempDir('prov-npm-env-'), 'env');
    const prepared = await checkDependencySet(depset, deps, { language: 'node', outDir: out });
    expect(prepared.verified).toBe(5);
    expect(prepared.env.npm_config_offline).toBe('true');
    const build = join(tempDir('prov-npm-build-'), 'app');
    cpSync(project, build, { recursive: true });
    const r = runOffline('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: build,
      env: { PATH: process.env.PATH, HOME: tempDir(), ...prepared.env },
    });
    expect(r.stderr).not.toMatch(/ERR!|error/);
    expect(r.status).toBe(0);
    expect(readdirSync(join(build, 'node_modules')).sort()).toEqual([
      '.bin',
      '.package-lock.json',
      '@sindresorhus',
      'is-number',
      'lru-cache',
      'semver',
      'yallist',
    ]);
    expect(readlinkSync(join(build, 'node_modules', '.bin', 'semver'))).toBe(
      '../semver/bin/semver.js',
    );
    const run = runOffline(
      'node',
      ['-e', 'process.stdout.write(String(require("is-number")(5)))'],
      { cwd: build, env: { PATH: process.env.PATH } },
    );
    expect(run.stdout).toBe('true');
  });

  it('when a tarball differs from its integrity, it refuses with DEPENDENCY_DIGEST_MISMATCH', async () => {
    const copy = copySet();
    appendFileSync(join(copy, 'npm', readdirSync(join(copy, 'npm'))[0]!), 'x');
    await expect(
      checkDependencySet(copy, deps, { language: 'node', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_DIGEST_MISMATCH');
  });

  it('when the set is single-use (consume), each tarball moves into the cache and npm installs offline from it', async () => {
    const copy = copySet();
    const out = join(tempDir('prov-npm-env-'), 'env');
    const prepared = await checkDependencySet(copy, deps, {
      language: 'node',
      outDir: out,
      consume: true,
    });
    expect(prepared.verified).toBe(5);
    expect(readdirSync(join(copy, 'npm'))).toEqual([]);
    const build = join(tempDir('prov-npm-build-'), 'app');
    cpSync(project, build, { recursive: true });
    const r = runOffline('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: build,
      env: { PATH: process.env.PATH, HOME: tempDir(), ...prepared.env },
    });
    expect(r.status).toBe(0);
    expect(existsSync(join(build, 'node_modules', 'semver', 'package.json'))).toBe(true);
  });

  it('when a consumed set holds a tarball that differs from its integrity or has a second link, it refuses it', async () => {
    const bad = copySet();
    appendFileSync(join(bad, 'npm', readdirSync(join(bad, 'npm'))[0]!), 'x');
    await expect(
      checkDependencySet(bad, deps, {
        language: 'node',
        outDir: join(tempDir(), 'e'),
        consume: true,
      }),
    ).rejects.toHaveCode('DEPENDENCY_DIGEST_MISMATCH');
    // A second link would let its bytes change after the check.
    const linked = copySet();
    const first = join(linked, 'npm', readdirSync(join(linked, 'npm'))[0]!);
    linkSync(first, join(tempDir(), 'other-link.tgz'));
    await expect(
      checkDependencySet(linked, deps, {
        language: 'node',
        outDir: join(tempDir(), 'e'),
        consume: true,
      }),
    ).rejects.toHaveCode('DEPENDENCY_MALFORMED');
  });

  it('when a tarball is missing or a stray file is present, it refuses with DEPENDENCY_MISSING or DEPENDENCY_UNEXPECTED_FILE', async () => {
    const a = copySet();
    rmSync(join(a, 'npm', readdirSync(join(a, 'npm'))[0]!));
    await expect(
      checkDependencySet(a, deps, { language: 'node', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_MISSING');
    const b = copySet();
    writeFileSync(join(b, 'npm', '_cacache'), 'planted index');
    await expect(
      checkDependencySet(b, deps, { language: 'node', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_UNEXPECTED_FILE');
  });

  it('when the lockfile has a git dependency, fetching and checking refuse with DEPENDENCY_UNPINNED naming it', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'package.json': '{"name":"x","dependencies":{"g":"github:o/g"}}',
      'package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { name: 'x' },
          'node_modules/g': {
            version: '1.0.0',
            resolved: 'git+ssh://git@github.com/o/g.git#0123456789abcdef0123456789abcdef01234567',
          },
        },
      }),
    });
    await expect(fetchDependencySet(dir, 'node', join(dir, 'set'))).rejects.toHaveCode(
      'DEPENDENCY_UNPINNED',
    );
    const g = await readLockedDependencies(dir, 'node');
    await expect(
      checkDependencySet(join(dir, 'none'), g, { language: 'node', outDir: join(dir, 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_UNPINNED');
    expect(existsSync(join(dir, 'e'))).toBe(false);
  });

  it('when the registry serves bytes that differ from the lockfile integrity, the fetch refuses them', async () => {
    const wrong = parsePackageLock(
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': {},
          'node_modules/is-number': {
            version: '7.0.0',
            integrity: 'sha512-' + 'A'.repeat(85) + 'Q==',
          },
        },
      }),
    );
    const dir = tempDir();
    writeFiles(dir, {
      'package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': {},
          'node_modules/is-number': { version: '7.0.0', integrity: wrong[0]!.digest },
        },
      }),
    });
    await expect(fetchDependencySet(dir, 'node', join(dir, 'set'))).rejects.toHaveCode(
      'DEPENDENCY_DIGEST_MISMATCH',
    );
    expect(existsSync(join(dir, 'set', 'npm'))).toBe(false);
  });

  it('when the registry does not have the package, the fetch fails with DEPENDENCY_FETCH_FAILED', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': {},
          'node_modules/is-number': {
            version: '999.0.0',
            integrity: 'sha512-' + 'A'.repeat(85) + 'Q==',
          },
        },
      }),
    });
    await expect(fetchDependencySet(dir, 'node', join(dir, 'set'))).rejects.toHaveCode(
      'DEPENDENCY_FETCH_FAILED',
    );
  });

  it('when an optional package is for another platform, the set leaves it out and real `npm ci` installs offline without it', async () => {
    // The fixture's optional @tee-compile-fixture/aix-only (os aix, cpu ppc64) does not exist on
    // the registry: fetching it would fail.
    const withOptional = new URL('../fixtures/provenance/npm-v3-platform', import.meta.url)
      .pathname;
    const set = join(tempDir('prov-npm-platform-'), 'set');
    const r = await fetchDependencySet(withOptional, 'node', set);
    expect(r.dependencies.map((d) => d.name)).not.toContain('@tee-compile-fixture/aix-only');
    expect(r.dependencies).toHaveLength(5);
    const out = join(tempDir('prov-npm-platform-env-'), 'env');
    const prepared = await checkDependencySet(set, r.dependencies, {
      language: 'node',
      outDir: out,
    });
    const build = join(tempDir('prov-npm-platform-build-'), 'app');
    cpSync(withOptional, build, { recursive: true });
    const ci = runOffline('npm', ['ci', '--no-audit', '--no-fund'], {
      cwd: build,
      env: { PATH: process.env.PATH, HOME: tempDir(), ...prepared.env },
    });
    expect(ci.status).toBe(0);
    expect(existsSync(join(build, 'node_modules', 'semver'))).toBe(true);
    expect(existsSync(join(build, 'node_modules', '@tee-compile-fixture'))).toBe(false);
    // On that platform the package is part of the set.
    const onAix = await readLockedDependencies(withOptional, 'node', {
      platform: { os: 'aix', cpu: 'ppc64' },
    });
    expect(onAix.map((d) => d.name)).toContain('@tee-compile-fixture/aix-only');
  });

  it('when there are no dependencies, the set is empty and nothing is prepared', async () => {
    const out = join(tempDir(), 'e');
    const p = await checkDependencySet(join(tempDir(), 'absent'), [], { outDir: out });
    expect(p).toEqual({ language: null, env: {}, dirs: [], verified: 0, unpinned: [] });
  });
});
