import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageCatalog, ImageEntry } from '../../src/catalog/index.js';
import {
  SIMULATED_BOOTSTRAP,
  SIMULATED_CMDLINE,
  SIMULATED_KERNEL,
  computeSimulatedPcrs,
  findImage,
  imageCatalogJsonSchema,
  parseImageCatalog,
  simulatedDescriptor,
  simulatedEifInput,
  trustedImages,
} from '../../src/catalog/index.js';
import {
  DEFAULT_IMAGE_CATALOG_PATH,
  PACKAGE_ROOT,
  loadImageCatalog,
} from '../../src/catalog/node.js';
import { assembleEif, bytesSource, describeEif, measure } from '../../src/eif/index.js';
import { nodeHashing } from '../../src/eif/node.js';

const Z = (c: string) => c.repeat(96);
const entry = (over: Partial<ImageEntry> = {}): ImageEntry => ({
  name: 'rust',
  version: '0.1.0',
  language: 'rust',
  toolchain: { rust: '1.89.0' },
  recipe: { 'enclave/images/rust/Dockerfile': 'a'.repeat(64) },
  pcrs: null,
  eif: null,
  simulated: { pcr0: Z('0'), pcr1: Z('1'), pcr2: Z('2') },
  ...over,
});
const catalog = (images: unknown[]): unknown => ({ schemaVersion: 1, images });

describe('image catalog (enclave/images.json)', () => {
  it('when the shipped catalog is loaded, it validates and has one image per language', async () => {
    const c = await loadImageCatalog();
    expect(DEFAULT_IMAGE_CATALOG_PATH).toBe(join(PACKAGE_ROOT, 'enclave', 'images.json'));
    expect(new Set(c.images.map((i) => i.language))).toEqual(new Set(['rust', 'node', 'go']));
    // Real PCRs only come from a Nitro host; until then both are null.
    for (const i of c.images) expect(i.pcrs === null).toBe(i.eif === null);
  });

  it('when a field is wrong, it refuses with CATALOG_INVALID naming the field', () => {
    const cases: [unknown, string][] = [
      [
        catalog([entry({ simulated: { pcr0: 'xyz', pcr1: Z('1'), pcr2: Z('2') } })]),
        'images.0.simulated.pcr0',
      ],
      [catalog([{ ...entry(), extra: 1 }]), 'images.0'],
      [catalog([entry({ language: 'cobol' as 'rust' })]), 'images.0.language'],
      [catalog([entry({ version: 'v1' })]), 'images.0.version'],
      [
        catalog([entry({ recipe: { '/etc/passwd': 'a'.repeat(64) } })]),
        'images.0.recipe./etc/passwd',
      ],
      [catalog([entry(), entry()]), 'images.1'],
      [catalog([entry({ pcrs: { pcr0: Z('a'), pcr1: Z('b'), pcr2: Z('c') } })]), 'images.0.eif'],
      [
        catalog([
          entry({
            eif: { sha256: 'a'.repeat(64), size: 1, url: 'http://x/y.eif' },
            pcrs: { pcr0: Z('a'), pcr1: Z('b'), pcr2: Z('c') },
          }),
        ]),
        'images.0.eif.url',
      ],
      [catalog([]), 'images'],
      [{ schemaVersion: 2, images: [entry()] }, 'schemaVersion'],
    ];
    for (const [json, path] of cases) {
      expect(() => parseImageCatalog(json)).toThrowWithCode('CATALOG_INVALID');
      try {
        parseImageCatalog(json);
      } catch (e) {
        expect((e as { path?: string }).path).toBe(path);
        expect((e as Error).message).toContain(path);
      }
    }
  });

  it('when the catalog file is missing or not JSON, it refuses with CATALOG_UNREADABLE', async () => {
    await expect(loadImageCatalog('/nonexistent/images.json')).rejects.toHaveCode(
      'CATALOG_UNREADABLE',
    );
    const here = fileURLToPath(import.meta.url);
    await expect(loadImageCatalog(here)).rejects.toHaveCode('CATALOG_UNREADABLE');
  });

  it('when looking up an image, it takes the highest matching version', () => {
    const c = parseImageCatalog(
      catalog([
        entry({ version: '0.9.0' }),
        entry({ version: '0.10.0' }),
        entry({
          version: '0.2.0',
          pcrs: { pcr0: Z('a'), pcr1: Z('b'), pcr2: Z('c') },
          eif: { sha256: 'a'.repeat(64), size: 10, url: 'https://example.com/rust.eif' },
        }),
        entry({ name: 'go', language: 'go' }),
      ]),
    );
    expect(findImage(c, { language: 'rust' }).version).toBe('0.10.0');
    expect(findImage(c, { language: 'rust', version: '0.9.0' }).version).toBe('0.9.0');
    expect(findImage(c, { language: 'rust', measured: true }).version).toBe('0.2.0');
    expect(findImage(c, { language: 'go', name: 'go' }).name).toBe('go');
  });

  it('when no image matches, it refuses with IMAGE_NOT_FOUND saying what there is', () => {
    const c = parseImageCatalog(catalog([entry()]));
    expect(() => findImage(c, { language: 'rust', measured: true })).toThrowWithCode(
      'IMAGE_NOT_FOUND',
    );
    expect(() => findImage(c, { language: 'rust', measured: true })).toThrowWithCode(
      'IMAGE_NOT_FOUND',
    );
    expect(() => findImage(c, { language: 'node' })).toThrowWithCode('IMAGE_NOT_FOUND');
  });

  it('when turned into trusted images, real PCRs stay null until measured and simulated ones carry over', () => {
    const c = parseImageCatalog(catalog([entry()]));
    expect(trustedImages(c)).toEqual([
      {
        name: 'rust',
        version: '0.1.0',
        pcr0: null,
        pcr1: null,
        pcr2: null,
        simulated: entry().simulated,
      },
    ]);
  });

  it('when enclave/images.schema.json is compared with the zod schema, they are the same (else run node scripts/schemas.mjs)', async () => {
    const file = JSON.parse(
      await readFile(join(PACKAGE_ROOT, 'enclave', 'images.schema.json'), 'utf8'),
    ) as unknown;
    expect(file).toEqual(imageCatalogJsonSchema());
  });
});

describe('simulated measurements', () => {
  const id = entry();

  it('when computed, they are the PCRs of the simulated EIF, measured like any EIF', async () => {
    const s = await computeSimulatedPcrs(id);
    const eif = await assembleEif(simulatedEifInput(id));
    const d = await describeEif(bytesSource(eif), { hashing: nodeHashing });
    expect(s).toEqual({
      pcr0: d.measurements.pcr0,
      pcr1: d.measurements.pcr1,
      pcr2: d.measurements.pcr2,
    });
    const enc = new TextEncoder();
    const descriptor = simulatedDescriptor(id);
    expect(s.pcr2).toBe(measure(descriptor));
    expect(s.pcr1).toBe(
      measure(
        new Uint8Array([
          ...SIMULATED_KERNEL,
          ...enc.encode(SIMULATED_CMDLINE),
          ...SIMULATED_BOOTSTRAP,
        ]),
      ),
    );
    expect(JSON.parse(new TextDecoder().decode(descriptor))).toEqual({
      format: 'tee-compile-simulated-eif/1',
      language: 'rust',
      name: 'rust',
      recipe: id.recipe,
      toolchain: id.toolchain,
      version: '0.1.0',
    });
  });

  it('when a recipe file, pin, name or version changes, PCR0 and PCR2 change and PCR1 does not', async () => {
    const base = await computeSimulatedPcrs(id);
    const variants: ImageEntry[] = [
      entry({ recipe: { 'enclave/images/rust/Dockerfile': 'b'.repeat(64) } }),
      entry({ recipe: { ...id.recipe, 'enclave/shared/entrypoint.sh': 'c'.repeat(64) } }),
      entry({ toolchain: { rust: '1.90.0' } }),
      entry({ version: '0.1.1' }),
      entry({ name: 'rust-musl' }),
    ];
    for (const v of variants) {
      const s = await computeSimulatedPcrs(v);
      expect(s.pcr0).not.toBe(base.pcr0);
      expect(s.pcr2).not.toBe(base.pcr2);
      expect(s.pcr1).toBe(base.pcr1);
    }
    // Key order in the catalog does not matter: the descriptor is canonical JSON.
    const reordered = entry({ toolchain: { b: '2', a: '1' } });
    const ordered = entry({ toolchain: { a: '1', b: '2' } });
    expect(await computeSimulatedPcrs(reordered)).toEqual(await computeSimulatedPcrs(ordered));
  });
});

describe('browser-capable modules', () => {
  it('when src/catalog/index.ts is loaded, nothing it imports (transitively) uses node: modules', async () => {
    const srcRoot = resolve(PACKAGE_ROOT, 'src');
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = await readFile(file, 'utf8');
      // Static imports and re-exports, side-effect imports, and dynamic `import('…')` (loaded
      // later, but still part of what a browser bundle must be able to load).
      for (const m of text.matchAll(
        /^\s*(?:import|export)[^'"]*from\s+'([^']+)'|^\s*import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm,
      )) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (spec.startsWith('node:')) offenders.push(`${file}: ${spec}`);
        if (spec.startsWith('.') && !/^\s*import\s+type|^\s*export\s+type/.test(m[0]))
          await visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    };
    await visit(join(srcRoot, 'catalog', 'index.ts'));
    expect(seen.has(join(srcRoot, 'eif', 'reader.ts'))).toBe(true);
    expect(offenders).toEqual([]);
  });
});

export type { ImageCatalog };
