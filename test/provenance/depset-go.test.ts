import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGoLock } from '../../src/provenance/index.js';
import type { LockedDependency } from '../../src/provenance/index.js';
import { checkDependencySet, fetchDependencySet, listTreeForTests } from './depset-helpers.js';
import { tempDir, writeFiles } from '../support/source/provenance-git.js';
import { addGoModule, runOffline, writeZip } from '../support/source/provenance-depset.js';

const GO_BASE: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: tempDir('prov-go-home-'),
  GOSUMDB: 'off',
  GOTOOLCHAIN: 'local',
  GOFLAGS: '-mod=mod',
  GOCACHE: tempDir('prov-go-cache-'),
};

let proxy: string;
let app: string;
let depset: string;
let deps: LockedDependency[];

beforeAll(async () => {
  proxy = tempDir('prov-go-proxy-');
  addGoModule(proxy, 'example.com/modonly', 'v1.0.0', {
    'go.mod': 'module example.com/modonly\n\ngo 1.19\n',
    'm.go': 'package modonly\n',
  });
  addGoModule(proxy, 'example.com/greet', 'v1.0.0', {
    'go.mod': 'module example.com/greet\n\ngo 1.19\n\nrequire example.com/modonly v1.0.0\n',
    'greet.go': 'package greet\n\nfunc Hello() string { return "hello" }\n',
  });
  // Upper-case letters exercise Go's case-escaping of module paths (`!caps`).
  addGoModule(proxy, 'example.com/Caps', 'v0.2.0', {
    'go.mod': 'module example.com/Caps\n\ngo 1.19\n',
    'caps.go':
      'package caps\n\nimport "strings"\n\nfunc Up(s string) string { return strings.ToUpper(s) }\n',
    'sub/doc.txt': 'nested file\n',
  });
  app = tempDir('prov-go-app-');
  writeFiles(app, {
    // go 1.16: an unpruned module graph, so go.sum pins modonly by its go.mod alone.
    'go.mod':
      'module example.com/app\n\ngo 1.16\n\nrequire (\n\texample.com/Caps v0.2.0\n\texample.com/greet v1.0.0\n)\n',
    'main.go':
      'package main\n\nimport (\n\t"fmt"\n\n\tcaps "example.com/Caps"\n\t"example.com/greet"\n)\n\nfunc main() { fmt.Println(caps.Up(greet.Hello())) }\n',
  });
  const env = {
    ...GO_BASE,
    GOPROXY: `file://${proxy}`,
    GOMODCACHE: tempDir('prov-go-mc-'),
    GOPATH: tempDir('prov-go-path-'),
  };
  execFileSync('go', ['mod', 'tidy'], { cwd: app, env, stdio: 'pipe' });
  execFileSync('chmod', ['-R', 'u+w', env.GOMODCACHE]);
  deps = parseGoLock(
    readFileSync(join(app, 'go.mod'), 'utf8'),
    readFileSync(join(app, 'go.sum'), 'utf8'),
  );
  depset = join(tempDir('prov-go-set-'), 'set');
  await fetchDependencySet(app, 'go', depset, { env: { ...GO_BASE, GOPROXY: `file://${proxy}` } });
});

function copySet(): string {
  const copy = join(tempDir('prov-go-copy-'), 'set');
  cpSync(depset, copy, { recursive: true });
  return copy;
}

describe('Go dependency sets', () => {
  it('when go.sum pins a module by go.mod only, it is fetched without its zip; the set uses cache/download layout', async () => {
    const modonly = deps.find((d) => d.name === 'example.com/modonly')!;
    expect(modonly.digest).toBeNull();
    expect(modonly.goModDigest).toMatch(/^h1:/);
    expect((await listTreeForTests(depset)).files.sort()).toEqual([
      'go/example.com/!caps/@v/v0.2.0.mod',
      'go/example.com/!caps/@v/v0.2.0.zip',
      'go/example.com/greet/@v/v1.0.0.mod',
      'go/example.com/greet/@v/v1.0.0.zip',
      'go/example.com/modonly/@v/v1.0.0.mod',
    ]);
  });

  it('when checked, it verifies every h1 and real go builds offline from the fresh proxy', async () => {
    const out = join(tempDir('prov-go-env-'), 'env');
    const prepared = await checkDependencySet(depset, deps, { language: 'go', outDir: out });
    expect(prepared.verified).toBe(5);
    expect(prepared.env).toMatchObject({
      GOSUMDB: 'off',
      GOFLAGS: '-mod=readonly',
      GOTOOLCHAIN: 'local',
    });
    expect(prepared.env.GOPROXY).toMatch(/^file:\/\//);
    const build = join(tempDir('prov-go-build-'), 'app');
    cpSync(app, build, { recursive: true });
    const r = runOffline('go', ['build', '-o', 'app', '.'], {
      cwd: build,
      env: {
        PATH: process.env.PATH,
        HOME: GO_BASE.HOME,
        GOCACHE: tempDir(),
        GOPATH: tempDir(),
        ...prepared.env,
      },
    });
    expect(r.stderr).not.toMatch(/error|cannot|verifying/i);
    expect(r.status).toBe(0);
    expect(execFileSync(join(build, 'app'), { encoding: 'utf8' })).toBe('HELLO\n');
    execFileSync('chmod', ['-R', 'u+w', out]);
  });

  it('when a module zip holds other files than go.sum pins, it refuses with DEPENDENCY_DIGEST_MISMATCH', async () => {
    const copy = copySet();
    writeZip(join(copy, 'go/example.com/greet/@v/v1.0.0.zip'), {
      'example.com/greet@v1.0.0/go.mod':
        'module example.com/greet\n\ngo 1.19\n\nrequire example.com/modonly v1.0.0\n',
      'example.com/greet@v1.0.0/greet.go':
        'package greet\n\nfunc Hello() string { return "pwned" }\n',
    });
    await expect(
      checkDependencySet(copy, deps, { language: 'go', outDir: join(tempDir(), 'e') }),
    ).rejects.toThrow(/example\.com\/greet v1\.0\.0: the module zip hashes to h1:/);
  });

  it('when a go.mod differs from its /go.mod hash, it refuses with DEPENDENCY_DIGEST_MISMATCH', async () => {
    const copy = copySet();
    appendFileSync(
      join(copy, 'go/example.com/modonly/@v/v1.0.0.mod'),
      '\nrequire evil.example/x v1.0.0\n',
    );
    await expect(
      checkDependencySet(copy, deps, { language: 'go', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_DIGEST_MISMATCH');
  });

  it('when a zip is missing or an unexpected file is present, it refuses with DEPENDENCY_MISSING or DEPENDENCY_UNEXPECTED_FILE', async () => {
    const a = copySet();
    rmSync(join(a, 'go/example.com/!caps/@v/v0.2.0.zip'));
    await expect(
      checkDependencySet(a, deps, { language: 'go', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_MISSING');
    const b = copySet();
    writeFileSync(join(b, 'go/example.com/greet/@v/v1.0.0.info'), '{"Version":"v1.0.0"}');
    await expect(
      checkDependencySet(b, deps, { language: 'go', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_UNEXPECTED_FILE');
  });

  it('when a zip matches no safe layout (a symlink entry), it refuses with DEPENDENCY_MALFORMED', async () => {
    const dir = tempDir();
    const zip = join(dir, 'x.zip');
    execFileSync('python3', [
      '-c',
      'import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],"w")\ni=zipfile.ZipInfo("m.example/x@v1.0.0/l")\ni.external_attr=(0o120777<<16)\nz.writestr(i,"/etc/passwd")\nz.close()',
      zip,
    ]);
    const set = join(dir, 'set');
    writeFiles(set, { 'go/m.example/x/@v/v1.0.0.zip': readFileSync(zip) });
    const dep: LockedDependency = {
      ecosystem: 'go',
      name: 'm.example/x',
      version: 'v1.0.0',
      purl: 'pkg:golang/m.example/x@v1.0.0',
      digest: 'h1:pN/+iEkzWwBUHy86aw5Vd1WTEXw04KZ9W9CWdwfqofs=',
      kind: 'registry',
    };
    await expect(
      checkDependencySet(set, [dep], { language: 'go', outDir: join(dir, 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_MALFORMED');
  });

  it('when the module proxy does not have a module, the fetch fails with DEPENDENCY_FETCH_FAILED', async () => {
    const dep = { ...deps[0]!, name: 'example.com/absent' };
    const dir = tempDir();
    writeFiles(dir, {
      'go.mod': 'module m\n\nrequire example.com/absent v1.0.0\n',
      'go.sum': `example.com/absent v1.0.0 ${dep.digest ?? dep.goModDigest!}\nexample.com/absent v1.0.0/go.mod ${dep.goModDigest!}\n`,
    });
    await expect(
      fetchDependencySet(dir, 'go', join(dir, 'set'), {
        env: { ...GO_BASE, GOPROXY: `file://${proxy}` },
      }),
    ).rejects.toHaveCode('DEPENDENCY_FETCH_FAILED');
  });
});
