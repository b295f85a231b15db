import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectOutputs } from '../../src/worker/outputs.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tc-out-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function put(rel: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(join(root, rel, '..'), { recursive: true });
  await writeFile(join(root, rel), content, { mode });
}

describe('output collection', () => {
  it('when globs match, it returns each file once, named from the source root, sorted, with its digest', async () => {
    await put('app/dist/b.js', 'b');
    await put('app/dist/sub/a.js', 'a');
    await put('app/dist/a.d.ts', 'types');
    await put('app/bin/tool', 'x', 0o755);
    const out = await collectOutputs(root, 'app', ['dist/**/*.js', 'dist/sub/a.js', 'bin/tool']);
    expect(out.map((o) => o.name)).toEqual(['app/bin/tool', 'app/dist/b.js', 'app/dist/sub/a.js']);
    expect(out[0]).toMatchObject({
      executable: true,
      size: 1,
      sha256: createHash('sha256').update('x').digest('hex'),
    });
    expect(out[1]!.executable).toBe(false);
  });

  it('when a glob has no `**`, it matches at its own depth only, and deeper files are not taken', async () => {
    await put('pkg-1.tgz', 'p');
    await put('node_modules/x/pkg-2.tgz', 'q');
    await put('a/b.txt', 'b');
    await put('a/c/b.txt', 'cb');
    await put('x/y/z.txt', 'z');
    const out = await collectOutputs(root, '.', [
      'pkg-*.tgz',
      '*/b.txt',
      'x/?/z.txt',
      'a/**/b.txt',
      '{a,x}/c/*',
    ]);
    expect(out.map((o) => o.name)).toEqual(['a/b.txt', 'a/c/b.txt', 'pkg-1.tgz', 'x/y/z.txt']);
    // A literal directory is not an output, walked or not.
    await expect(collectOutputs(root, '.', ['node_modules'])).rejects.toHaveCode('OUTPUT_MISSING');
  });

  it('when globs match nothing, it refuses with OUTPUT_MISSING naming each of them', async () => {
    await put('dist/a.js', 'a');
    const err = await collectOutputs(root, '.', ['dist/*.js', 'dist/*.wasm', 'target/x']).catch(
      (e: unknown) => e,
    );
    expect(err).toHaveCode('OUTPUT_MISSING');
    expect((err as Error).message).toContain('"dist/*.wasm", "target/x"');
  });

  it('when a matched output is a symbolic link, it refuses with OUTPUT_INVALID', async () => {
    await put('dist/real.js', 'a');
    await symlink('real.js', join(root, 'dist', 'link.js'));
    await expect(collectOutputs(root, '.', ['dist/*.js'])).rejects.toHaveCode('OUTPUT_INVALID');
  });

  it('when a glob reaches outside the tree through a linked directory, it refuses with OUTPUT_INVALID', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'tc-outside-'));
    await writeFile(join(outside, 'secret'), 's');
    await symlink(outside, join(root, 'dist'));
    const err = await collectOutputs(root, '.', ['dist/*']).catch((e: unknown) => e);
    await rm(outside, { recursive: true, force: true });
    expect(err).toHaveCode('OUTPUT_INVALID');
  });
});
