import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { bundledWorker } from '../../src/enclave/worker-bundle.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tc-bundle-'));
  await mkdir(join(dir, 'lib/worker'), { recursive: true });
  await writeFile(join(dir, 'lib/util.js'), "export const word = 'bundled';\n");
  await writeFile(
    join(dir, 'lib/worker/main.js'),
    "import { word } from '../util.js';\nconsole.log(word);\n",
  );
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('local worker bundle', () => {
  it('when esbuild is available, it bundles the worker once and reuses the bundle until lib changes', async () => {
    const entry = join(dir, 'lib/worker/main.js');
    const cache = join(dir, 'cache');
    const first = await bundledWorker(entry, cache);
    expect(first).not.toBe(entry);
    expect(execFileSync(process.execPath, [first], { encoding: 'utf8' })).toBe('bundled\n');
    expect(await bundledWorker(entry, cache)).toBe(first);
    await writeFile(join(dir, 'lib/util.js'), "export const word = 'changed!';\n");
    const second = await bundledWorker(entry, cache);
    expect(second).not.toBe(first);
    expect(execFileSync(process.execPath, [second], { encoding: 'utf8' })).toBe('changed!\n');
    expect(await readdir(join(cache, 'worker'))).toHaveLength(1);
  });

  it('bundles zod with its English messages only, and what is imported on demand in a chunk of its own', async () => {
    await symlink(join(process.cwd(), 'node_modules'), join(dir, 'node_modules'));
    await writeFile(join(dir, 'lib/later.js'), "export const word = 'LOADED-ON-DEMAND';\n");
    await writeFile(
      join(dir, 'lib/worker/main.js'),
      [
        "import { z } from 'zod';",
        'console.log(Object.keys(z.locales).join(","));',
        'console.log(z.string().safeParse(1).error.issues[0].message);',
        "if (process.argv[2] === 'later') console.log((await import('../later.js')).word);",
      ].join('\n'),
    );
    const bundle = await bundledWorker(join(dir, 'lib/worker/main.js'), join(dir, 'cache'));
    const lines = (args: string[]): string[] =>
      execFileSync(process.execPath, [bundle, ...args], { encoding: 'utf8' })
        .trim()
        .split('\n');
    const [locales, message] = lines([]);
    expect(locales).toBe('en');
    // The English message, as zod gives it.
    expect(message).toMatch(/^Invalid input: expected string, received number$/);
    expect(lines(['later'])[2]).toBe('LOADED-ON-DEMAND');
    expect(await readFile(bundle, 'utf8')).not.toContain('LOADED-ON-DEMAND');
    const files = await readdir(dirname(bundle));
    expect(files.length).toBeGreaterThan(1);
  });

  it('when the entry does not exist, it returns the entry as given', async () => {
    const missing = join(dir, 'nowhere/worker/main.js');
    expect(await bundledWorker(missing, join(dir, 'cache'))).toBe(missing);
  });
});
