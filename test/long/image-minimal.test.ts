/**
 * The `minimal` image built end to end here (mmdebstrap from deb.debian.org, the helpers compiled
 * with the recipe's gcc, the worker bundled, deterministic ramdisks, the EIF): twice, in two
 * folders, at different times, the second from a warm package cache; same EIF bytes and PCRs.
 * Needs root and mmdebstrap. The kernel is a stand-in file (the real bzImage cannot be fetched
 * here), so the recipe is copied with its kernel pin replaced; every other input is the recipe's.
 * Prints the build times (cold and warm cache); they are reported, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/catalog/node.js';
import { buildImage } from '../../src/image/index.js';
import type { BuiltImage } from '../../src/image/index.js';
import { runCli } from '../support/cli/cli.js';
import { STANDIN_KERNEL, blobsDir, sha256 } from '../support/nitro/image-recipe.js';

const CAN_BUILD = process.getuid?.() === 0 && spawnSync('mmdebstrap', ['--version']).status === 0;
const maybe = CAN_BUILD ? describe : describe.skip;

let root: string;
let blobs: string;
let cache: string;
const dirs: string[] = [];

beforeAll(async () => {
  if (!CAN_BUILD) return;
  root = await mkdtemp(join(tmpdir(), 'image-minimal-root-'));
  await cp(join(PACKAGE_ROOT, 'enclave'), join(root, 'enclave'), { recursive: true });
  for (const p of ['src', 'node_modules', 'package.json'])
    await symlink(join(PACKAGE_ROOT, p), join(root, p));
  const file = join(root, 'enclave/images/minimal/recipe.json');
  const recipe = JSON.parse(await readFile(file, 'utf8')) as { blobs: Record<string, unknown> };
  recipe.blobs['kernel'] = { file: 'bzImage', sha256: sha256(STANDIN_KERNEL) };
  await writeFile(file, JSON.stringify(recipe, null, 2));
  blobs = await blobsDir();
  cache = await mkdtemp(join(tmpdir(), 'image-minimal-cache-'));
  dirs.push(root, blobs, cache);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function build(): Promise<{ built: BuiltImage; seconds: number }> {
  const out = await mkdtemp(join(tmpdir(), 'image-minimal-out-'));
  dirs.push(out);
  const t = Date.now();
  const built = await buildImage({
    root,
    name: 'minimal',
    outDir: out,
    blobsDir: blobs,
    cacheDir: cache,
  });
  return { built, seconds: (Date.now() - t) / 1000 };
}

maybe('the minimal image', () => {
  it('when built twice (cold, then warm cache), it gives the same EIF and PCRs, describe-eif agrees, and the ramdisks hold what nitro-cli puts there', async () => {
    const a = await build();
    await new Promise((r) => setTimeout(r, 2000));
    const b = await build();
    console.log(
      `minimal: cold ${a.seconds.toFixed(0)} s ${JSON.stringify(a.built.timings)}; ` +
        `warm ${b.seconds.toFixed(0)} s ${JSON.stringify(b.built.timings)}`,
    );
    expect(b.built.eif).not.toBe(a.built.eif);
    expect(b.built.sha256).toBe(a.built.sha256);
    expect([b.built.pcr0, b.built.pcr1, b.built.pcr2]).toEqual([
      a.built.pcr0,
      a.built.pcr1,
      a.built.pcr2,
    ]);

    const d = await runCli(['eif', 'describe', '--json', a.built.eif]);
    expect(d.code).toBe(0);
    const m = (JSON.parse(d.stdout) as { Measurements: Record<string, string> }).Measurements;
    expect([m['PCR0'], m['PCR1'], m['PCR2']]).toEqual([a.built.pcr0, a.built.pcr1, a.built.pcr2]);

    // The customer ramdisk, read by GNU cpio straight from the EIF (section 4 of 5).
    const eif = await readFile(a.built.eif);
    const v = new DataView(eif.buffer, eif.byteOffset, eif.byteLength);
    const at = Number(v.getBigUint64(28 + 8 * 4));
    const size = Number(v.getBigUint64(28 + 256 + 8 * 4));
    const list = execFileSync('cpio', ['-t', '--quiet'], {
      input: eif.subarray(at + 12, at + 12 + size),
      maxBuffer: 1 << 28,
    })
      .toString()
      .split('\n');
    for (const p of [
      'cmd',
      'env',
      'rootfs',
      'rootfs/dev',
      'rootfs/proc',
      'rootfs/usr/bin/node',
      'rootfs/usr/bin/socat',
      'rootfs/usr/local/bin/tee-nsm',
      'rootfs/usr/local/bin/tee-jail',
      'rootfs/usr/local/bin/tee-entrypoint',
      'rootfs/opt/tee-compile/worker.mjs',
      'rootfs/opt/tee-compile/image.json',
    ])
      expect(list).toContain(p);
  });
});
