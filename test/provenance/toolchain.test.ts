import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectToolchain } from '../../src/provenance/node.js';

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('detectToolchain', () => {
  it('when detecting rust, it resolves rustc and cargo inside the active toolchain (past rustup proxies) and hashes them', async () => {
    const sysroot = execFileSync('rustc', ['--print', 'sysroot'], { encoding: 'utf8' }).trim();
    const [cargo, rustc] = await detectToolchain('rust');
    expect(rustc).toEqual({
      name: 'rustc',
      version: execFileSync(join(sysroot, 'bin', 'rustc'), ['--version'], {
        encoding: 'utf8',
      }).trim(),
      sha256: sha256(join(sysroot, 'bin', 'rustc')),
      path: realpathSync(join(sysroot, 'bin', 'rustc')),
    });
    expect(cargo!.name).toBe('cargo');
    expect(cargo!.path).toBe(realpathSync(join(sysroot, 'bin', 'cargo')));
    expect(cargo!.version).toMatch(/^cargo \d+\.\d+\.\d+/);
  });

  it('when detecting node, it hashes the node binary and npm’s entry script', async () => {
    const [node, npm] = await detectToolchain('node');
    expect(node!.version).toBe(execFileSync('node', ['--version'], { encoding: 'utf8' }).trim());
    expect(node!.sha256).toBe(sha256(node!.path));
    expect(npm!.path).toMatch(/npm-cli\.js$/);
    expect(npm!.sha256).toBe(sha256(npm!.path));
    expect(npm!.version).toBe(execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim());
  });

  it('when npm is not laid out as a package, its version is what running it prints', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'toolchain-'));
    try {
      symlinkSync(process.execPath, join(bin, 'node'));
      // An npm-cli.js whose package.json is not npm's, and an npm that is a plain script.
      mkdirSync(join(bin, 'pkg', 'bin'), { recursive: true });
      writeFileSync(join(bin, 'pkg', 'package.json'), '{"name":"not-npm","version":"1.2.3"}');
      const script = '#!/bin/sh\necho 9.8.7\n';
      for (const entry of [join(bin, 'pkg', 'bin', 'npm-cli.js'), join(bin, 'npm-script')]) {
        writeFileSync(entry, script);
        chmodSync(entry, 0o755);
      }
      for (const [target, version] of [
        [join(bin, 'pkg', 'bin', 'npm-cli.js'), '9.8.7'],
        [join(bin, 'npm-script'), '9.8.7'],
      ] as const) {
        rmSync(join(bin, 'npm'), { force: true });
        symlinkSync(target, join(bin, 'npm'));
        const [, npm] = await detectToolchain('node', { PATH: bin });
        expect(npm).toMatchObject({ name: 'npm', version, path: target });
      }
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('when detecting go, it hashes $GOROOT/bin/go', async () => {
    const goroot = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
    const [go] = await detectToolchain('go');
    expect(go!.path).toBe(realpathSync(join(goroot, 'bin', 'go')));
    expect(go!.version).toMatch(/^go version go\d/);
  });

  it('when the tools are not on PATH, it refuses with TOOLCHAIN_NOT_FOUND', async () => {
    await expect(detectToolchain('go', { PATH: '/nonexistent' })).rejects.toHaveCode(
      'TOOLCHAIN_NOT_FOUND',
    );
    await expect(detectToolchain('rust', { PATH: '' })).rejects.toThrow(/rustc: not found on PATH/);
  });
});
