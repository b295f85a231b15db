import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  dependencyDescriptors,
  isPinned,
  parseCargoLock,
  parseGoLock,
  parseGoSum,
  parseLockedDependencies,
  parsePackageLock,
  purl,
} from '../../src/provenance/index.js';
import { detectLanguage, readLockedDependencies } from '../../src/provenance/node.js';
import { tempDir, writeFiles } from '../support/source/provenance-git.js';

const fixture = (p: string): string =>
  readFileSync(new URL(`../fixtures/provenance/${p}`, import.meta.url), 'utf8');
const fixtureDir = (p: string): string =>
  new URL(`../fixtures/provenance/${p}`, import.meta.url).pathname;

describe('package-lock.json', () => {
  it('when reading a real v3 lockfile without resolved fields, it lists every package with its integrity and purl', () => {
    const deps = parsePackageLock(fixture('npm-v3/package-lock.json'));
    expect(deps.map((d) => d.purl)).toEqual([
      'pkg:npm/%40sindresorhus/is@4.6.0',
      'pkg:npm/is-number@7.0.0',
      'pkg:npm/lru-cache@6.0.0',
      'pkg:npm/semver@7.6.0',
      'pkg:npm/yallist@4.0.0',
    ]);
    const isn = deps.find((d) => d.name === 'is-number')!;
    expect(isn).toEqual({
      ecosystem: 'npm',
      name: 'is-number',
      version: '7.0.0',
      purl: 'pkg:npm/is-number@7.0.0',
      digest:
        'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
      kind: 'registry',
    });
    expect(dependencyDescriptors(isn)).toEqual([
      {
        name: 'is-number',
        uri: 'pkg:npm/is-number@7.0.0',
        digest: {
          sha512:
            'e350a27e483a7bc4f2952a5db53a5e2d532abd20445734edb47bc4443ef8d7ea6767c00dbf4d34e0c44be3740a3c394af5c1af369e8d6566540656c65d8c719e',
        },
      },
    ]);
  });

  it('when reading a v2 workspace lockfile, workspace members are source, not dependencies', () => {
    const deps = parsePackageLock(fixture('npm-v2-workspace/package-lock.json'));
    expect(deps.map((d) => `${d.name}@${d.version}`)).toEqual([
      '@sindresorhus/is@4.6.0',
      'is-number@7.0.0',
    ]);
  });

  const lock = (packages: Record<string, unknown>, v = 3): string =>
    JSON.stringify({ name: 'x', lockfileVersion: v, packages: { '': { name: 'x' }, ...packages } });

  it('when dependencies come from git, a path or a link out of the tree, it lists them as unpinned with their kind', () => {
    const deps = parsePackageLock(
      lock({
        'node_modules/gitdep': {
          version: '1.0.0',
          resolved:
            'git+ssh://git@github.com/o/gitdep.git#0123456789abcdef0123456789abcdef01234567',
        },
        'node_modules/outside': { resolved: '../elsewhere', link: true },
        'node_modules/tarball': {
          version: '2.0.0',
          resolved: 'file:../x/tarball-2.0.0.tgz',
          integrity: 'sha512-' + 'A'.repeat(86) + '==',
        },
        'node_modules/intree': { version: '3.0.0', resolved: 'file:vendor/intree-3.0.0.tgz' },
        'node_modules/bundled': { version: '1.0.0', inBundle: true },
        'node_modules/nointegrity': { version: '1.0.0' },
      }),
    );
    const byName = Object.fromEntries(deps.map((d) => [d.name, d]));
    expect(Object.keys(byName).sort()).toEqual(['gitdep', 'nointegrity', 'outside', 'tarball']);
    expect(byName.gitdep).toMatchObject({ kind: 'git', digest: null });
    expect(byName.gitdep!.purl).toMatch(/^pkg:npm\/gitdep@1\.0\.0\?vcs_url=git%2Bssh/);
    expect(byName.outside).toMatchObject({ kind: 'link', source: '../elsewhere' });
    expect(byName.tarball).toMatchObject({ kind: 'path', digest: null });
    expect(byName.nointegrity).toMatchObject({ kind: 'registry', digest: null });
    expect(deps.filter(isPinned)).toEqual([]);
  });

  it('when a link leaves the work directory but stays inside the repository, it is source', () => {
    const text = lock({ 'node_modules/shared': { resolved: '../shared', link: true } });
    expect(parsePackageLock(text, 'package-lock.json', { workdir: 'examples/app' })).toEqual([]);
    expect(parsePackageLock(text, 'package-lock.json', { workdir: '.' })).toHaveLength(1);
  });

  it('when a package is aliased or nested, it uses the real name and lists each version once', () => {
    const integrity = 'sha512-' + 'B'.repeat(85) + 'Q==';
    const deps = parsePackageLock(
      lock({
        'node_modules/alias': { name: 'real-name', version: '1.0.0', integrity },
        'node_modules/a/node_modules/real-name': { version: '1.0.0', integrity },
        'node_modules/@s/p': { version: '1.0.0+build.1', integrity },
      }),
    );
    expect(deps.map((d) => d.purl)).toEqual([
      'pkg:npm/%40s/p@1.0.0%2Bbuild.1',
      'pkg:npm/real-name@1.0.0',
    ]);
  });

  it('when given a platform, it leaves out the optional packages npm would not install there, as npm decides', () => {
    const integrity = 'sha512-' + 'B'.repeat(85) + 'Q==';
    const at = (version: string, more: object): object => ({ version, integrity, ...more });
    const text = lock({
      'node_modules/darwin-arm64': at('1.0.0', { optional: true, os: ['darwin'], cpu: ['arm64'] }),
      'node_modules/linux-x64': at('1.0.0', { optional: true, os: ['linux'], cpu: ['x64'] }),
      'node_modules/linux-x64-musl': at('1.0.0', {
        optional: true,
        os: ['linux'],
        cpu: ['x64'],
        libc: ['musl'],
      }),
      'node_modules/not-windows': at('1.0.0', { optional: true, os: ['!win32'] }),
      'node_modules/only-windows-as-string': at('1.0.0', { optional: true, os: 'win32' }),
      'node_modules/any-cpu': at('1.0.0', { optional: true, cpu: ['any'] }),
      'node_modules/libc-unknown-here': at('1.0.0', { optional: true, libc: ['glibc'] }),
      // Not optional: npm would stop with EBADPLATFORM, so it stays and the build says so.
      'node_modules/required-darwin': at('1.0.0', { os: ['darwin'] }),
      // A field npm cannot read is no rule.
      'node_modules/odd-field': at('1.0.0', { optional: true, os: 7 }),
    });
    const names = (platform?: { os: string; cpu: string; libc?: string }): string[] =>
      parsePackageLock(text, 'package-lock.json', platform ? { platform } : {}).map((d) => d.name);
    expect(names({ os: 'linux', cpu: 'x64', libc: 'glibc' })).toEqual([
      'any-cpu',
      'libc-unknown-here',
      'linux-x64',
      'not-windows',
      'odd-field',
      'required-darwin',
    ]);
    expect(names({ os: 'linux', cpu: 'x64' })).toEqual([
      'any-cpu',
      'linux-x64',
      'not-windows',
      'odd-field',
      'required-darwin',
    ]);
    expect(names({ os: 'win32', cpu: 'x64' })).toEqual([
      'any-cpu',
      'odd-field',
      'only-windows-as-string',
      'required-darwin',
    ]);
    // Without a platform (the verify path, listing a lockfile), every package is listed.
    expect(names()).toHaveLength(9);
  });

  it('when the lockfile is v1, it refuses it with LOCKFILE_UNSUPPORTED and says to regenerate with npm >= 7', () => {
    expect(() =>
      parsePackageLock(JSON.stringify({ lockfileVersion: 1, dependencies: {} })),
    ).toThrowWithCode('LOCKFILE_UNSUPPORTED');
    expect(() => parsePackageLock(JSON.stringify({ lockfileVersion: 1 }))).toThrow(/npm >= 7/);
    expect(() =>
      parsePackageLock(JSON.stringify({ lockfileVersion: 9, packages: {} })),
    ).toThrowWithCode('LOCKFILE_UNSUPPORTED');
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[]'],
    ['no packages', JSON.stringify({ lockfileVersion: 3 })],
    [
      'a package without version',
      lock({ 'node_modules/x': { integrity: 'sha512-' + 'A'.repeat(86) + '==' } }),
    ],
    [
      'a malformed integrity',
      lock({ 'node_modules/x': { version: '1.0.0', integrity: 'sha512-abc' } }),
    ],
    [
      'an integrity of the wrong length',
      lock({ 'node_modules/x': { version: '1.0.0', integrity: 'sha512-AAAA' } }),
    ],
    ['an invalid name', lock({ 'node_modules/../x': { version: '1.0.0' } })],
    ['a string for an entry', lock({ 'node_modules/x': '1.0.0' })],
  ])('when the lockfile has %s, it refuses it with LOCKFILE_MALFORMED', (_what, text) => {
    expect(() => parsePackageLock(text)).toThrowWithCode('LOCKFILE_MALFORMED');
  });
});

const CARGO_V3 = `# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "serde",
 "local-lib",
 "gitdep",
]

[[package]]
name = "local-lib"
version = "0.2.0"

[[package]]
name = "serde"
version = "1.0.197"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "3fb1c873e1b9b056a4dc4c0c198b24c3ffa059243875552b2bd0933b1aee4ce2"

[[package]]
name = "other"
version = "1.0.0"
source = "sparse+https://registry.example.com/index/"
checksum = "0000000000000000000000000000000000000000000000000000000000000001"

[[package]]
name = "gitdep"
version = "0.1.0"
source = "git+https://github.com/o/gitdep?branch=main#0123456789abcdef0123456789abcdef01234567"
`;

describe('Cargo.lock', () => {
  it('when reading a real v4 lockfile, it lists the registry crate with its checksum', () => {
    expect(parseCargoLock(fixture('cargo-v4/Cargo.lock'))).toEqual([
      {
        ecosystem: 'cargo',
        name: 'leftpad',
        version: '0.1.0',
        purl: 'pkg:cargo/leftpad@0.1.0',
        digest: 'sha256:6dec97e4f059175e939f8a078575b469098fd785c58069b23cc74c389b056cb4',
        kind: 'registry',
        source: 'registry+https://github.com/rust-lang/crates.io-index',
      },
    ]);
  });

  it('when reading a v3 lockfile, workspace and path packages are source and git packages are unpinned', () => {
    const deps = parseCargoLock(CARGO_V3);
    expect(deps.map((d) => [d.purl, d.kind, d.digest])).toEqual([
      [
        'pkg:cargo/gitdep@0.1.0?vcs_url=git%2Bhttps%3A%2F%2Fgithub.com%2Fo%2Fgitdep%3Fbranch%3Dmain%230123456789abcdef0123456789abcdef01234567',
        'git',
        null,
      ],
      [
        'pkg:cargo/other@1.0.0?repository_url=sparse%2Bhttps%3A%2F%2Fregistry.example.com%2Findex%2F',
        'registry',
        'sha256:0000000000000000000000000000000000000000000000000000000000000001',
      ],
      [
        'pkg:cargo/serde@1.0.197',
        'registry',
        'sha256:3fb1c873e1b9b056a4dc4c0c198b24c3ffa059243875552b2bd0933b1aee4ce2',
      ],
    ]);
  });

  it('when the lockfile is v1/v2 (no version, or version 2), it refuses with LOCKFILE_UNSUPPORTED naming cargo >= 1.53', () => {
    const v1 =
      '[[package]]\nname = "a"\nversion = "1.0.0"\n\n[metadata]\n"checksum a 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)" = "00"\n';
    expect(() => parseCargoLock(v1)).toThrowWithCode('LOCKFILE_UNSUPPORTED');
    expect(() => parseCargoLock(v1)).toThrow(/cargo >= 1\.53/);
    expect(() => parseCargoLock('version = 2\n')).toThrowWithCode('LOCKFILE_UNSUPPORTED');
    expect(() => parseCargoLock('version = 5\n')).toThrowWithCode('LOCKFILE_UNSUPPORTED');
    // Without [metadata] but with a registry package: still refused.
    expect(() =>
      parseCargoLock(
        '[[package]]\nname = "b"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n',
      ),
    ).toThrowWithCode('LOCKFILE_UNSUPPORTED');
  });

  it('when Go modules are vendored (vendor/modules.txt), they are part of the source and nothing is fetched', async () => {
    const dir = tempDir('lock-vendor-');
    writeFiles(dir, {
      'go.mod': 'module example.com/v\n\ngo 1.18\n\nrequire github.com/a/b v1.0.0\n',
      'vendor/modules.txt': '# github.com/a/b v1.0.0\n## explicit\ngithub.com/a/b\n',
    });
    expect(await readLockedDependencies(dir, 'go')).toEqual([]);
    // Without vendor/, the same go.mod needs go.sum.
    expect(() =>
      parseLockedDependencies('go', { 'go.mod': readFileSync(join(dir, 'go.mod'), 'utf8') }),
    ).toThrowWithCode('LOCKFILE_MISSING');
  });

  it('when a v1/v2 lockfile holds only local packages (a crate without dependencies), it pins nothing and is accepted', () => {
    expect(parseCargoLock('[[package]]\nname = "min"\nversion = "0.1.0"\n')).toEqual([]);
  });

  it.each([
    ['a syntax error', 'version = 3\n[[package]\n'],
    ['an unterminated string', 'version = 3\n[[package]]\nname = "a\n'],
    ['a duplicate key', 'version = 3\n[[package]]\nname = "a"\nname = "b"\n'],
    [
      'a bad checksum',
      'version = 3\n[[package]]\nname = "a"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "xyz"\n',
    ],
    ['a bad version', 'version = 3\n[[package]]\nname = "a"\nversion = "one"\n'],
    [
      'a package listed twice',
      'version = 3\n' +
        '[[package]]\nname = "a"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n'.repeat(
          2,
        ),
    ],
    ['a float', 'version = 3.5\n'],
    ['trailing garbage', 'version = 3 x\n'],
  ])('when the lockfile has %s, it refuses it with LOCKFILE_MALFORMED', (_what, text) => {
    expect(() => parseCargoLock(text)).toThrowWithCode('LOCKFILE_MALFORMED');
  });

  it('when a source is neither registry nor git, it refuses with LOCKFILE_UNSUPPORTED', () => {
    expect(() =>
      parseCargoLock(
        'version = 3\n[[package]]\nname = "a"\nversion = "1.0.0"\nsource = "directory+/x"\n',
      ),
    ).toThrowWithCode('LOCKFILE_UNSUPPORTED');
  });
});

describe('go.sum and go.mod', () => {
  it('when reading a real go.sum, it pins the zip and the go.mod of each module and marks direct requirements', () => {
    const deps = parseGoLock(fixture('go-module/go.mod'), fixture('go-module/go.sum'));
    expect(deps).toEqual([
      {
        ecosystem: 'go',
        name: 'example.com/greet',
        version: 'v1.0.0',
        purl: 'pkg:golang/example.com/greet@v1.0.0',
        digest: 'h1:pN/+iEkzWwBUHy86aw5Vd1WTEXw04KZ9W9CWdwfqofs=',
        goModDigest: 'h1:qmCUdUgvYzVx/QpXPHPcbrzaJCOfJUUeUlhKWag7bZg=',
        kind: 'registry',
        direct: true,
      },
    ]);
    expect(dependencyDescriptors(deps[0]!).map((d) => [d.uri, d.digest])).toEqual([
      [
        'pkg:golang/example.com/greet@v1.0.0',
        { dirHash: 'a4dffe8849335b00541f2f3a6b0e55775593117c34e0a67d5bd0967707eaa1fb' },
      ],
      [
        'pkg:golang/example.com/greet@v1.0.0#go.mod',
        { dirHash: 'aa609475482f633571fd0a573c73dc6ebcda24239f25451e52584a59a83b6d98' },
      ],
    ]);
  });

  it('when a module is pinned by its go.mod only, it is pinned without a zip digest', () => {
    const mod = 'module m\n\ngo 1.19\n\nrequire (\n\ta.example/x v1.2.3 // indirect\n)\n';
    const sum = 'a.example/x v1.2.3/go.mod h1:qmCUdUgvYzVx/QpXPHPcbrzaJCOfJUUeUlhKWag7bZg=\n';
    const [d] = parseGoLock(mod, sum);
    expect(d).toMatchObject({
      digest: null,
      goModDigest: 'h1:qmCUdUgvYzVx/QpXPHPcbrzaJCOfJUUeUlhKWag7bZg=',
    });
    expect(d!.direct).toBeUndefined();
    expect(isPinned(d!)).toBe(true);
  });

  it('when go.mod replaces a module by a directory, inside the repository it is source and outside it is unpinned', () => {
    const mod =
      'module m\nrequire (\n  a.example/in v1.0.0\n  a.example/out v1.0.0\n)\nreplace a.example/in => ./in\nreplace (\n a.example/out v1.0.0 => ../../out\n)\n';
    const deps = parseGoLock(mod, '', { workdir: 'sub' });
    expect(deps).toEqual([
      {
        ecosystem: 'go',
        name: 'a.example/out',
        version: 'v1.0.0',
        purl: 'pkg:golang/a.example/out@v1.0.0',
        digest: null,
        kind: 'path',
        source: '../../out',
      },
    ]);
  });

  it('when go.mod requires a module go.sum does not pin, or go.sum is missing, it says to run go mod tidy', () => {
    const mod = 'module m\nrequire a.example/x v1.0.0\n';
    expect(() => parseGoLock(mod, '')).toThrowWithCode('LOCKFILE_MALFORMED');
    expect(() => parseGoLock(mod, null)).toThrowWithCode('LOCKFILE_MISSING');
    expect(() => parseGoLock(mod, null)).toThrow(/go mod tidy/);
    expect(parseGoLock('module m\n\ngo 1.19\n', null)).toEqual([]);
  });

  it.each([
    ['two fields', 'a.example/x v1.0.0\n'],
    ['a bad version', 'a.example/x 1.0.0 h1:qmCUdUgvYzVx/QpXPHPcbrzaJCOfJUUeUlhKWag7bZg=\n'],
    ['a short hash', 'a.example/x v1.0.0 h1:abc=\n'],
    ['a bad module path', '../x v1.0.0 h1:qmCUdUgvYzVx/QpXPHPcbrzaJCOfJUUeUlhKWag7bZg=\n'],
    [
      'two different hashes',
      'a.example/x v1.0.0 h1:qmCUdUgvYzVx/QpXPHPcbrzaJCOfJUUeUlhKWag7bZg=\na.example/x v1.0.0 h1:pN/+iEkzWwBUHy86aw5Vd1WTEXw04KZ9W9CWdwfqofs=\n',
    ],
  ])('when go.sum has %s, it refuses it with LOCKFILE_MALFORMED', (_what, text) => {
    expect(() => parseGoSum(text)).toThrowWithCode('LOCKFILE_MALFORMED');
  });

  it('when go.sum uses an unknown hash version, it refuses it with LOCKFILE_UNSUPPORTED', () => {
    expect(() => parseGoSum('a.example/x v1.0.0 h9:abc=\n')).toThrowWithCode(
      'LOCKFILE_UNSUPPORTED',
    );
  });

  it('when go.mod has an unterminated block, it refuses it with LOCKFILE_MALFORMED', () => {
    expect(() => parseGoLock('module m\nrequire (\n a.example/x v1.0.0\n', '')).toThrowWithCode(
      'LOCKFILE_MALFORMED',
    );
  });
});

describe('finding lockfiles', () => {
  it('when a language’s lockfile is missing, it says how to create it (LOCKFILE_MISSING)', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'Cargo.toml': '[package]\nname="a"\n',
      'package.json': '{"dependencies":{"x":"1"}}',
    });
    await expect(readLockedDependencies(dir, 'rust')).rejects.toHaveCode('LOCKFILE_MISSING');
    await expect(readLockedDependencies(dir, 'node')).rejects.toHaveCode('LOCKFILE_MISSING');
    await expect(readLockedDependencies(dir, 'go')).rejects.toHaveCode('LOCKFILE_MISSING');
  });

  it('when a node project has no dependencies and no lockfile, it has no dependencies', () => {
    expect(parseLockedDependencies('node', { 'package.json': '{"name":"x"}' })).toEqual([]);
  });

  it('when a node project uses yarn or pnpm, it refuses with LOCKFILE_UNSUPPORTED', () => {
    expect(() =>
      parseLockedDependencies('node', { 'package.json': '{}', 'yarn.lock': '' }),
    ).toThrowWithCode('LOCKFILE_UNSUPPORTED');
  });

  it('when npm-shrinkwrap.json exists, it is preferred to package-lock.json (as npm does)', () => {
    const shrink = JSON.stringify({
      lockfileVersion: 3,
      packages: { 'node_modules/a': { version: '1.0.0' } },
    });
    const deps = parseLockedDependencies('node', {
      'npm-shrinkwrap.json': shrink,
      'package-lock.json': '{',
    });
    expect(deps.map((d) => d.name)).toEqual(['a']);
  });

  it('when reading the fixtures from disk, it finds each lockfile and detects the language', async () => {
    expect(await readLockedDependencies(fixtureDir('npm-v3'), 'node')).toHaveLength(5);
    expect(await readLockedDependencies(fixtureDir('go-module'), 'go')).toHaveLength(1);
    expect(await detectLanguage(fixtureDir('npm-v3'))).toBe('node');
    expect(await detectLanguage(fixtureDir('cargo-v4'))).toBe('rust');
    expect(await detectLanguage(fixtureDir('go-module'))).toBe('go');
    expect(await detectLanguage(tempDir())).toBeNull();
  });
});

describe('purl', () => {
  it('when names have scopes, path segments or special characters, it percent-encodes each segment', () => {
    expect(purl('npm', '@types/node', '20.1.0')).toBe('pkg:npm/%40types/node@20.1.0');
    expect(purl('go', 'golang.org/x/mod', 'v0.1.0')).toBe('pkg:golang/golang.org/x/mod@v0.1.0');
    expect(purl('go', 'github.com/A/b', 'v2.0.0+incompatible', { subpath: 'go.mod' })).toBe(
      'pkg:golang/github.com/A/b@v2.0.0%2Bincompatible#go.mod',
    );
    expect(purl('cargo', 'x', '1.0.0', { qualifiers: { z: '1', a: 'b c' } })).toBe(
      'pkg:cargo/x@1.0.0?a=b%20c&z=1',
    );
  });
});
