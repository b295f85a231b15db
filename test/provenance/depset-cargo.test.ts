import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import {
  appendFileSync,
  cpSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parseCargoLock } from '../../src/provenance/index.js';
import type { LockedDependency } from '../../src/provenance/index.js';
import { checkDependencySet, fetchDependencySet } from '../../src/provenance/node.js';
import { writeTarFile } from '../../src/archive/node.js';
import { tempDir, writeFiles } from '../support/source/provenance-git.js';
import { makeCrate, runOffline, startCargoRegistry } from '../support/source/provenance-depset.js';
import type { CargoRegistry } from '../support/source/provenance-depset.js';

let registry: CargoRegistry;
let app: string;
let depset: string;
let deps: LockedDependency[];

beforeAll(async () => {
  const leftpad = makeCrate(
    'leftpad',
    '0.1.0',
    'pub fn pad(s: &str, n: usize) -> String { format!("{:>w$}", s, w = n) }\n',
  );
  const shout = makeCrate(
    'shout',
    '1.2.0',
    'pub fn shout(s: &str) -> String { s.to_uppercase() }\n',
  );
  registry = await startCargoRegistry([
    { name: 'leftpad', version: '0.1.0', file: leftpad.file },
    { name: 'shout', version: '1.2.0', file: shout.file },
  ]);
  app = tempDir('prov-cargo-app-');
  writeFiles(app, {
    'Cargo.toml':
      '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nleftpad = "0.1"\nshout = "1"\n',
    'src/main.rs': 'fn main() { println!("[{}]", leftpad::pad(&shout::shout("ok"), 5)); }\n',
  });
  const home = tempDir('prov-cargo-home-');
  writeFileSync(join(home, 'config.toml'), registry.config);
  // Asynchronously: the registry answers from this very process.
  await promisify(execFile)('cargo', ['generate-lockfile', '--quiet'], {
    cwd: app,
    env: { ...process.env, CARGO_HOME: home },
  });
  deps = parseCargoLock(readFileSync(join(app, 'Cargo.lock'), 'utf8'));
  depset = join(tempDir('prov-cargo-set-'), 'set');
  await fetchDependencySet(app, 'rust', depset, { cargoConfig: registry.config });
});

afterAll(async () => {
  await registry?.close();
});

function copySet(): string {
  const copy = join(tempDir('prov-cargo-copy-'), 'set');
  cpSync(depset, copy, { recursive: true });
  return copy;
}

describe('Cargo dependency sets', () => {
  it('when fetched with real cargo, the set holds each crate under its Cargo.lock checksum', () => {
    expect(deps.map((d) => d.name)).toEqual(['leftpad', 'shout']);
    const files = readdirSync(join(depset, 'cargo')).sort();
    expect(files).toEqual(
      deps.map((d) => `sha256-${d.digest!.slice('sha256:'.length)}.crate`).sort(),
    );
  });

  it('when checked, it vendors verified crates and real cargo builds offline and locked from them', async () => {
    const out = join(tempDir('prov-cargo-env-'), 'env');
    const prepared = await checkDependencySet(depset, deps, { language: 'rust', outDir: out });
    expect(prepared.verified).toBe(2);
    expect(prepared.env.CARGO_HOME).toBe(join(out, 'cargo-home'));
    const sum = JSON.parse(
      readFileSync(join(out, 'cargo-vendor', 'leftpad-0.1.0', '.cargo-checksum.json'), 'utf8'),
    ) as {
      files: Record<string, string>;
      package: string;
    };
    expect(`sha256:${sum.package}`).toBe(deps[0]!.digest);
    expect(sum.files['src/lib.rs']).toMatch(/^[0-9a-f]{64}$/);
    const build = join(tempDir('prov-cargo-build-'), 'app');
    cpSync(app, build, { recursive: true });
    const r = runOffline('cargo', ['build', '--offline', '--locked', '--quiet'], {
      cwd: build,
      env: { ...process.env, ...prepared.env, CARGO_TARGET_DIR: join(build, 'target') },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(execFileSync(join(build, 'target', 'debug', 'app'), { encoding: 'utf8' })).toBe(
      '[   OK]\n',
    );
  });

  it('when a crate in the set differs from the lockfile, it refuses with DEPENDENCY_DIGEST_MISMATCH and leaves nothing behind', async () => {
    const copy = copySet();
    const f = join(copy, 'cargo', readdirSync(join(copy, 'cargo'))[0]!);
    appendFileSync(f, Buffer.from([0]));
    const out = join(tempDir(), 'env');
    await expect(
      checkDependencySet(copy, deps, { language: 'rust', outDir: out }),
    ).rejects.toHaveCode('DEPENDENCY_DIGEST_MISMATCH');
    expect(() => readdirSync(out)).toThrow();
  });

  it('when a crate is missing, it refuses with DEPENDENCY_MISSING naming it', async () => {
    const copy = copySet();
    rmSync(join(copy, 'cargo', `sha256-${deps[1]!.digest!.slice(7)}.crate`));
    await expect(
      checkDependencySet(copy, deps, { language: 'rust', outDir: join(tempDir(), 'e') }),
    ).rejects.toThrow(/shout@1\.2\.0/);
    await expect(
      checkDependencySet(copy, deps, { language: 'rust', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_MISSING');
  });

  it('when the set holds an extra file, directory or a symlink, it refuses with DEPENDENCY_UNEXPECTED_FILE', async () => {
    for (const add of [
      (c: string) => writeFileSync(join(c, 'cargo', 'extra.crate'), 'x'),
      (c: string) => writeFileSync(join(c, 'config.toml'), '[source]'),
      (c: string) => symlinkSync('/etc/passwd', join(c, 'cargo', 'link')),
      (c: string) => execFileSync('mkdir', ['-p', join(c, 'cargo', 'stray')]),
    ]) {
      const copy = copySet();
      add(copy);
      await expect(
        checkDependencySet(copy, deps, { language: 'rust', outDir: join(tempDir(), 'e') }),
      ).rejects.toHaveCode('DEPENDENCY_UNEXPECTED_FILE');
    }
  });

  it('when a dependency has no checksum (git), it refuses with DEPENDENCY_UNPINNED unless allowed', async () => {
    const lock = parseCargoLock(
      `version = 4\n\n[[package]]\nname = "g"\nversion = "0.1.0"\nsource = "git+https://example.com/g#0123456789abcdef0123456789abcdef01234567"\n`,
    );
    const all = [...deps, ...lock];
    await expect(
      checkDependencySet(depset, all, { language: 'rust', outDir: join(tempDir(), 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_UNPINNED');
    const ok = await checkDependencySet(depset, all, {
      language: 'rust',
      outDir: join(tempDir(), 'e'),
      allowUnpinned: true,
    });
    expect(ok.unpinned.map((d) => d.name)).toEqual(['g']);
  });

  it('when a crate matches its checksum but is not a safe crate archive, it refuses with DEPENDENCY_MALFORMED', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.crate');
    await writeTarFile(
      [
        {
          path: 'not-the-name-1.0.0/Cargo.toml',
          type: 'file',
          content: new TextEncoder().encode('[package]'),
        },
      ],
      file,
      { gzip: true },
    );
    const hex = createHash('sha256').update(readFileSync(file)).digest('hex');
    const set = join(dir, 'set');
    writeFiles(set, { [`cargo/sha256-${hex}.crate`]: readFileSync(file) });
    const dep: LockedDependency = {
      ecosystem: 'cargo',
      name: 'evil',
      version: '1.0.0',
      purl: 'pkg:cargo/evil@1.0.0',
      digest: `sha256:${hex}`,
      kind: 'registry',
      source: 'registry+https://github.com/rust-lang/crates.io-index',
    };
    await expect(
      checkDependencySet(set, [dep], { language: 'rust', outDir: join(dir, 'e') }),
    ).rejects.toHaveCode('DEPENDENCY_MALFORMED');
  });

  it('when the registry serves bytes that differ from the lockfile, the fetch fails', async () => {
    const key = 'shout-1.2.0.crate';
    const good = registry.files.get(key)!;
    registry.files.set(key, Buffer.concat([good, Buffer.from([0])]));
    try {
      await expect(
        fetchDependencySet(app, 'rust', join(tempDir(), 'set'), { cargoConfig: registry.config }),
      ).rejects.toHaveCode('DEPENDENCY_FETCH_FAILED');
    } finally {
      registry.files.set(key, good);
    }
  });
});
