/**
 * The `minimal` image with one Debian package pinned to another real version: ncurses-base
 * 6.5+20250216-2 (trixie) becomes 6.4-4 (bookworm; the SHA-256 of its Packages index, checked on
 * download like every pin). Built here end to end (mmdebstrap from deb.debian.org, needs root):
 * PCR2 changes, PCR1 does not, and `tee-compile image reproduce` on the changed recipe, compared
 * with the original build recorded in a catalog, refuses (REPRODUCE_MISMATCH) naming the first
 * customer ramdisk member that differs, with both digests. The second build reuses the helpers
 * compiled for the first (same compiler, same sources) and makes a new root file system (its
 * packages differ). The kernel is a stand-in file (the real bzImage cannot be fetched here).
 * TEE_IMAGE_CACHE names a cache to start from (default: an empty one).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT, loadImageCatalog } from '../../src/catalog/node.js';
import { buildImage, cachePath } from '../../src/image/index.js';
import { runCli } from '../support/cli/cli.js';
import { blobsDir, repositoryCopy } from '../support/nitro/image-recipe.js';

const CAN_BUILD = process.getuid?.() === 0 && spawnSync('mmdebstrap', ['--version']).status === 0;
const maybe = CAN_BUILD ? describe : describe.skip;

/** ncurses-base of bookworm: Architecture all, no dependencies, so trixie's closure still holds. */
const OTHER = {
  name: 'ncurses-base',
  version: '6.4-4',
  architecture: 'all',
  filename: 'pool/main/n/ncurses/ncurses-base_6.4-4_all.deb',
  sha256: 'bfd1d89f833c09a28b062ee916495cf69649ca2bf529532476c7b69d75d24909',
};

interface Pkg {
  name: string;
  version: string;
  sha256: string;
}

const dirs: string[] = [];
let original: string;
let changed: string;
let blobs: string;
let cache: string;
let trixieSha: string;

beforeAll(async () => {
  if (!CAN_BUILD) return;
  original = await repositoryCopy(PACKAGE_ROOT, 'minimal');
  changed = await repositoryCopy(PACKAGE_ROOT, 'minimal', (r) => {
    const d = r['debian'] as { packages: Pkg[] };
    const i = d.packages.findIndex((p) => p.name === OTHER.name);
    trixieSha = d.packages[i]!.sha256;
    d.packages[i] = OTHER;
  });
  blobs = await blobsDir();
  cache = process.env['TEE_IMAGE_CACHE'] ?? (await mkdtemp(join(tmpdir(), 'image-change-cache-')));
  dirs.push(original, changed, blobs);
  if (process.env['TEE_IMAGE_CACHE'] === undefined) dirs.push(cache);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const out = async () => {
  const d = await mkdtemp(join(tmpdir(), 'image-change-out-'));
  dirs.push(d);
  return d;
};

maybe('the minimal image with one package version changed', () => {
  it('when rebuilt, PCR2 changes, PCR1 does not, and reproduce names the first ramdisk member that differs', async () => {
    const t0 = Date.now();
    const a = await buildImage({
      root: original,
      name: 'minimal',
      outDir: await out(),
      blobsDir: blobs,
      cacheDir: cache,
    });
    const first = (Date.now() - t0) / 1000;

    // A catalog that records the original build, as images.json would once it is published.
    const catalog = await loadImageCatalog(join(original, 'enclave/images.json'));
    const entry = catalog.images.find((i) => i.name === 'minimal' && i.version === a.version)!;
    entry.pcrs = { pcr0: a.pcr0, pcr1: a.pcr1, pcr2: a.pcr2 };
    entry.eif = { sha256: a.sha256, size: a.size, url: 'https://example.com/minimal-0.1.0.eif' };
    const catalogFile = join(await out(), 'images.json');
    await writeFile(catalogFile, JSON.stringify(catalog, null, 2));

    const t1 = Date.now();
    const r = await runCli([
      'image',
      'reproduce',
      'minimal',
      '--root',
      changed,
      '--blobs',
      blobs,
      '--cache',
      cache,
      '--out',
      await out(),
      '--catalog',
      catalogFile,
      '--eif',
      a.eif,
      '--json',
    ]);
    const second = (Date.now() - t1) / 1000;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[REPRODUCE_MISMATCH]');
    const rep = JSON.parse(r.stdout) as {
      ok: boolean;
      built: { pcr0: string; pcr1: string; pcr2: string; reused: Record<string, boolean> };
      difference: { section: string; path: string; expected: string; actual: string };
    };
    console.log(
      `package change: original ${first.toFixed(0)} s ${JSON.stringify(a.timings)}; ` +
        `changed (reproduce) ${second.toFixed(0)} s; PCR2 ${a.pcr2} -> ${rep.built.pcr2}; ` +
        `first difference ${JSON.stringify(rep.difference)}`,
    );
    expect(rep.ok).toBe(false);
    expect(rep.built.pcr1).toBe(a.pcr1);
    expect(rep.built.pcr2).not.toBe(a.pcr2);
    expect(rep.built.pcr0).not.toBe(a.pcr0);
    if (process.env['TEE_IMAGE_CACHE'] === undefined)
      expect(rep.built.reused).toEqual({ helpers: true, rootfs: false });

    // The named member is one the two ncurses-base packages (or dpkg's record of them) hold.
    const listing = (sha: string) =>
      execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile "${cachePath(cache, sha)}" | tar -t`])
        .toString()
        .split('\n')
        .filter((p) => p !== '' && p !== './')
        .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
        // Merged /usr: a package's /lib, /bin, /sbin land below /usr in the tree.
        .map((p) => `rootfs/${p.replace(/^(lib|lib64|bin|sbin)(\/|$)/, 'usr/$1$2')}`);
    const owned = new Set([
      ...listing(trixieSha),
      ...listing(OTHER.sha256),
      'rootfs/var/lib/dpkg/status',
      'rootfs/var/lib/dpkg/info/ncurses-base.list',
      'rootfs/var/lib/dpkg/info/ncurses-base.md5sums',
      'rootfs/var/lib/dpkg/info/ncurses-base.conffiles',
    ]);
    expect(rep.difference.section).toBe('customer');
    expect(owned.has(rep.difference.path)).toBe(true);
    for (const d of [rep.difference.expected, rep.difference.actual])
      expect(d).toMatch(/^(?:[0-9a-f]{64}|absent)$/);
    expect(rep.difference.expected).not.toBe(rep.difference.actual);
  });
});
