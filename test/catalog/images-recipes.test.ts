import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
  toolchainFromDockerfile,
} from '../../src/catalog/node.js';
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

const dockerfile = (lang: string) =>
  readFile(join(PACKAGE_ROOT, 'enclave', 'images', lang, 'Dockerfile'), 'utf8');

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
      catalog = await loadImageCatalog(join(root, 'enclave', 'images.json'));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('when a recipe file or a pin changes, the catalog is reported stale, and refresh fixes it', async () => {
      const file = join(root, 'enclave', 'images', 'go', 'Dockerfile');
      const original = await readFile(file, 'utf8');
      await writeFile(file, original.replace('ARG GO_VERSION=1.25.5', 'ARG GO_VERSION=1.25.6'));
      try {
        const drift = await catalogDrift(catalog, root);
        expect(drift).toContain('go@0.1.0: recipe file enclave/images/go/Dockerfile changed');
        expect(drift).toContain('go@0.1.0: toolchain pin go changed');
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
      const file = join(root, 'enclave', 'images', 'node', 'Dockerfile');
      const original = await readFile(file, 'utf8');
      await writeFile(file, original + '\n# changed\n');
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

  it('when listing recipe files, build products next to them are left out', async () => {
    const files = await recipeFiles(PACKAGE_ROOT, 'rust');
    expect(files).toContain('enclave/images/rust/Dockerfile');
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

describe('image recipes', () => {
  it('when reading a Dockerfile, its pins become the toolchain', () => {
    const text =
      'ARG DEBIAN_IMAGE=debian:bookworm-20251229-slim@sha256:' +
      'a'.repeat(64) +
      '\n' +
      'ARG DEBIAN_SNAPSHOT=20251229T000000Z\nARG NODE_VERSION=22.23.1\nARG RUST_VERSION=1.89.0\n';
    expect(toolchainFromDockerfile(text)).toEqual({
      debian: 'bookworm-20251229-slim',
      debianSnapshot: '20251229T000000Z',
      node: '22.23.1',
      rust: '1.89.0',
    });
  });

  for (const lang of IMAGE_LANGUAGES) {
    it(`when building the ${lang} image, everything fetched is pinned and CMD starts the entrypoint`, async () => {
      const text = await dockerfile(lang);
      // Base image pinned by digest; every FROM is that base or an earlier stage.
      expect(text).toMatch(/^ARG DEBIAN_IMAGE=debian:[^@\s]+@sha256:[0-9a-f]{64}$/m);
      for (const m of text.matchAll(/^FROM\s+(\S+)/gm))
        expect(['${DEBIAN_IMAGE}', 'base']).toContain(m[1]);
      expect(text).not.toMatch(/^# syntax=/m); // a frontend image would be an unpinned fetch
      // Every download is checked against a SHA-256 pinned in the file.
      const downloads = [...text.matchAll(/curl [^\n]*-o (\S+)/g)].map((m) => m[1]!);
      expect(downloads.length).toBeGreaterThan(0);
      for (const d of downloads) expect(text).toContain(`${d}" | sha256sum -c -`);
      for (const m of text.matchAll(/^ARG (\w+)_SHA256=(\S*)$/gm))
        expect(m[2]).toMatch(/^[0-9a-f]{64}$/);
      expect(text).not.toMatch(/^ENTRYPOINT/m);
      expect(text).toMatch(/^CMD \["\/usr\/local\/bin\/tee-entrypoint"\]$/m);
      expect(text).toContain(
        `COPY --chmod=0644 enclave/build/${lang}/image.json /opt/tee-compile/image.json`,
      );
      expect(text).toContain(
        'COPY --chmod=0644 enclave/build/worker.mjs /opt/tee-compile/worker.mjs',
      );
      expect(text).toMatch(/apt-get install -y [^\n]*\bsocat\b/);
      expect(text).toMatch(/apt-get install -y [^\n]*\biproute2\b/);
      // The build context holds exactly what the Dockerfile copies (Dockerfile.dockerignore).
      const ignore = await readFile(
        join(PACKAGE_ROOT, 'enclave', 'images', lang, 'Dockerfile.dockerignore'),
        'utf8',
      );
      const allowed = ignore
        .split('\n')
        .filter((l) => l.startsWith('!'))
        .map((l) => l.slice(1));
      const copied = [
        ...text.matchAll(/^COPY (?:--chmod=\d+ )?((?:enclave\/\S+ )+)\S+$/gm),
      ].flatMap((m) => m[1]!.trim().split(' '));
      expect(ignore).toMatch(/^\*$/m);
      expect(copied.sort()).toEqual(allowed.sort());
      // The apt snapshot pins the package set.
      expect(text).toMatch(/^ARG DEBIAN_SNAPSHOT=\d{8}T\d{6}Z$/m);
    });
  }

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
