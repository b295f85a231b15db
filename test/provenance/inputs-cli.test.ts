import { beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inputMerkleRoot, parseBuildConfig, parsePackageLock } from '../../src/provenance/index.js';
import { readFileSync } from 'node:fs';
import { runBin, runCli } from '../support/cli/cli.js';
import { GIT_ENV, git, makeRepo, tempDir, writeFiles } from '../support/source/provenance-git.js';

const npmFixture = new URL('../fixtures/provenance/npm-v3', import.meta.url).pathname;
const buildJson = {
  language: 'node',
  input: { cmd: 'npm ci --offline && npm run build', env: ['NODE_ENV=production'] },
  output: { files: ['dist/*.js'] },
};

let repo: string;
let app: string;

beforeAll(() => {
  repo = makeRepo({ 'README.md': 'monorepo\n' }, { origin: 'https://github.com/acme/mono.git' });
  app = join(repo, 'apps', 'web');
  cpSync(npmFixture, app, { recursive: true });
  writeFileSync(join(app, 'build.json'), JSON.stringify(buildJson));
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '-m', 'web app']);
});

interface InputsJson {
  source: { commit: string; tree: string; dirty: boolean; repository: string };
  workdir: string;
  language: string;
  dependencies: {
    name: string;
    version: string;
    purl: string;
    digest: string | null;
    pinned: boolean;
  }[];
  merkleRoot: string | null;
}

describe('tee-compile inputs', () => {
  it('when run with --json in a project inside a repository, it prints the source, the dependencies and the Merkle root the enclave would record', async () => {
    const r = await runCli(['inputs', 'apps/web', '--json'], { cwd: repo, env: GIT_ENV });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as InputsJson;
    const commit = git(repo, ['rev-parse', 'HEAD']);
    expect(out.source).toMatchObject({
      commit,
      tree: git(repo, ['rev-parse', 'HEAD^{tree}']),
      dirty: false,
      repository: 'https://github.com/acme/mono',
    });
    expect(out.workdir).toBe('apps/web');
    expect(out.dependencies.map((d) => d.purl)).toContain('pkg:npm/%40sindresorhus/is@4.6.0');
    expect(out.dependencies[0]).toMatchObject({
      name: '@sindresorhus/is',
      version: '4.6.0',
      pinned: true,
    });
    const deps = parsePackageLock(readFileSync(join(app, 'package-lock.json'), 'utf8'));
    const expected = inputMerkleRoot(
      {
        commit,
        tree: out.source.tree,
        objectFormat: 'sha1',
        dirty: false,
        repository: 'https://github.com/acme/mono',
      },
      parseBuildConfig(buildJson),
      deps,
      'apps/web',
    );
    expect(out.merkleRoot).toBe(expected);
  });

  it('when run without --json, it prints a readable listing and flags a dirty tree', async () => {
    writeFileSync(join(repo, 'untracked.txt'), 'x');
    try {
      const r = await runCli(['inputs'], { cwd: app, env: GIT_ENV });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^source +https:\/\/github\.com\/acme\/mono$/m);
      expect(r.stdout).toMatch(/^dirty +yes/m);
      expect(r.stdout).toMatch(
        /^ {2}is-number 7\.0\.0 +sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741\+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==$/m,
      );
      expect(r.stdout).toMatch(/^merkle root +[0-9a-f]{64}$/m);
    } finally {
      git(repo, ['clean', '-fq']);
    }
  });

  it('when dependencies are unpinned, it lists and flags them and still exits 0', async () => {
    const dir = makeRepo({
      'package.json': '{"name":"x"}',
      'package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': {},
          'node_modules/g': { version: '1.0.0', resolved: 'git+ssh://git@example.com/g.git#abc' },
        },
      }),
    });
    const r = await runCli(['inputs', dir], { cwd: dir, env: GIT_ENV });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dependencies 1 \(1 UNPINNED\)$/m);
    expect(r.stdout).toContain('g 1.0.0  UNPINNED (git: git+ssh://git@example.com/g.git#abc)');
    expect(r.stdout).toMatch(/^merkle root +none/m);
    const j = JSON.parse(
      (await runCli(['inputs', dir, '--json'], { cwd: dir, env: GIT_ENV })).stdout,
    ) as InputsJson;
    expect(j.dependencies[0]).toMatchObject({ pinned: false, digest: null });
    expect(j.merkleRoot).toBeNull();
  });

  it('when the directory is not a git checkout, it exits 2 with the reason', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'go.mod': 'module m\n' });
    const r = await runCli(['inputs', dir], { cwd: dir, env: GIT_ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tee-compile inputs: .* is not inside a git work tree/);
  });

  it('when build.json is invalid, it exits 2 naming the field', async () => {
    const dir = makeRepo({
      'build.json': '{"language":"rust","input":{"cmd":""},"output":{"files":["x"]}}',
      'Cargo.lock': 'version = 4\n',
    });
    const r = await runCli(['inputs', dir], { cwd: dir, env: GIT_ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('build.json: input.cmd: expected a non-empty string');
  });

  it('when --config names a missing file, or the language cannot be told, or flags are wrong, it exits 2', async () => {
    const dir = makeRepo({ 'README.md': 'x' });
    expect(
      (await runCli(['inputs', dir, '--config', 'nope.json'], { cwd: dir, env: GIT_ENV })).stderr,
    ).toMatch(/nope\.json does not exist/);
    const r = await runCli(['inputs', dir], { cwd: dir, env: GIT_ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot tell the language/);
    expect((await runCli(['inputs', '--language', 'cobol'], { cwd: dir, env: GIT_ENV })).code).toBe(
      2,
    );
    expect((await runCli(['inputs', '--frobnicate'], { cwd: dir, env: GIT_ENV })).code).toBe(2);
    expect((await runCli(['inputs', 'a', 'b'], { cwd: dir, env: GIT_ENV })).code).toBe(2);
  });

  it('when the language is given and the lockfile is missing, it exits 2 saying how to create it', async () => {
    const dir = makeRepo({ 'Cargo.toml': '[package]\nname = "a"\n' });
    const r = await runCli(['inputs', dir, '--language', 'rust'], { cwd: dir, env: GIT_ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Cargo\.lock is missing; run `cargo generate-lockfile`/);
  });

  it('when asked for help, it prints the usage and exits 0', async () => {
    const r = await runCli(['inputs', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: tee-compile inputs/);
  });

  it('when run as the built executable, it prints the same JSON as in-process', async () => {
    const bin = await runBin(['inputs', 'apps/web', '--json'], { cwd: repo, env: GIT_ENV });
    const cli = await runCli(['inputs', 'apps/web', '--json'], { cwd: repo, env: GIT_ENV });
    expect(bin.code).toBe(0);
    expect(bin.stdout).toBe(cli.stdout);
  });
});
