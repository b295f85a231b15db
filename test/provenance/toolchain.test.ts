import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
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
    expect(npm!.version).toMatch(/^\d+\.\d+\.\d+$/);
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
