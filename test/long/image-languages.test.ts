/**
 * The language images (node, rust, go) built end to end here from their recipes on the one
 * pipeline (mmdebstrap from deb.debian.org, toolchain tarballs from the npm registry, the helpers
 * compiled with the recipe's gcc, the worker bundled; needs root), and what the worker needs
 * checked inside a chroot of the customer ramdisk as GNU cpio extracts it: the toolchain runs
 * (`node --version` and the others), the worker bundle loads under the image's Node.js, the
 * helpers and the entrypoint are root's. The kernel is a stand-in file (the real bzImage cannot
 * be fetched here). TEE_IMAGES=node,go picks images (default: all three); TEE_IMAGE_CACHE names
 * a cache to start from (default: an empty one). Build times are printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/catalog/node.js';
import { buildImage } from '../../src/image/index.js';
import { blobsDir, customerRamdisk, repositoryCopy } from '../support/nitro/image-recipe.js';

const CAN_BUILD =
  process.getuid?.() === 0 &&
  spawnSync('mmdebstrap', ['--version']).status === 0 &&
  spawnSync('cpio', ['--version']).status === 0;
const IMAGES = (process.env['TEE_IMAGES'] ?? 'node,rust,go').split(',').filter((s) => s !== '');

/** Commands run in the chroot, and what their output must contain. */
const CHECKS: Record<string, [string, string][]> = {
  node: [
    ['/opt/node/bin/node --version', 'v22.23.1'],
    ['npm --version', '10.9.8'],
    ['g++ --version', 'g++'],
    ['python3 --version', 'Python 3'],
    ['make --version', 'GNU Make'],
  ],
  rust: [
    ['/opt/node/bin/node --version', 'v22.23.1'],
    ['rustc --version', 'rustc 1.85.1'],
    ['cargo --version', 'cargo 1.85.1'],
    ['cc --version', 'Debian 14.2.0'],
  ],
  go: [
    ['/opt/node/bin/node --version', 'v22.23.1'],
    // No /proc in this chroot (the enclave's init mounts one): go cannot find itself without it.
    ['GOROOT=/usr/lib/go-1.24 GOTELEMETRY=off go version', 'go1.24.4'],
    ['cc --version', 'Debian 14.2.0'],
  ],
};

const dirs: string[] = [];
let blobs: string;
let cache: string;

beforeAll(async () => {
  if (!CAN_BUILD) return;
  blobs = await blobsDir();
  dirs.push(blobs);
  cache = process.env['TEE_IMAGE_CACHE'] ?? (await mkdtemp(join(tmpdir(), 'image-lang-cache-')));
  if (process.env['TEE_IMAGE_CACHE'] === undefined) dirs.push(cache);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

for (const name of ['node', 'rust', 'go']) {
  const maybe = CAN_BUILD && IMAGES.includes(name) ? describe : describe.skip;
  maybe(`the ${name} image`, () => {
    it('when built from its recipe, its customer ramdisk runs the toolchain and the worker in a chroot', async () => {
      const root = await repositoryCopy(PACKAGE_ROOT, name);
      const out = await mkdtemp(join(tmpdir(), `image-${name}-out-`));
      const x = await mkdtemp(join(tmpdir(), `image-${name}-x-`));
      dirs.push(root, out, x);
      const t = Date.now();
      const b = await buildImage({ root, name, outDir: out, blobsDir: blobs, cacheDir: cache });
      console.log(
        `${name}: ${((Date.now() - t) / 1000).toFixed(0)} s ${JSON.stringify(b.timings)} ` +
          `reused ${JSON.stringify(b.reused)}; EIF ${b.sha256} (${b.size} bytes); ` +
          `PCR0 ${b.pcr0} PCR1 ${b.pcr1} PCR2 ${b.pcr2}`,
      );
      execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], {
        cwd: x,
        input: customerRamdisk(await readFile(b.eif)),
        maxBuffer: 1 << 20,
      });
      const rootfs = join(x, 'rootfs');
      const env = (await readFile(join(x, 'env'), 'utf8')).split('\n').filter((l) => l !== '');
      expect(await readFile(join(x, 'cmd'), 'utf8')).toBe('/usr/local/bin/tee-entrypoint\n');
      const inChroot = (cmd: string) =>
        execFileSync('chroot', [rootfs, '/usr/bin/env', '-i', ...env, '/bin/sh', '-c', cmd], {
          timeout: 60_000,
        }).toString();
      for (const [cmd, want] of CHECKS[name]!) expect(inChroot(`${cmd} 2>&1`)).toContain(want);
      // The worker bundle loads under the image's Node.js and answers a bad flag with its usage.
      const r = spawnSync(
        'chroot',
        [rootfs, '/opt/node/bin/node', '/opt/tee-compile/worker.mjs', '--no-such-flag'],
        { timeout: 60_000 },
      );
      expect(r.stderr.toString()).toContain('usage');
      for (const h of ['tee-nsm', 'tee-jail']) {
        const st = await stat(join(rootfs, 'usr/local/bin', h));
        expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o700, 0, 0]);
      }
      const image = JSON.parse(
        await readFile(join(rootfs, 'opt/tee-compile/image.json'), 'utf8'),
      ) as { name: string; language: string };
      expect([image.name, image.language]).toEqual([name, name]);
    });
  });
}
