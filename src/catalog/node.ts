/**
 * Node side of the image catalog: reading enclave/images.json, hashing the recipe files, keeping
 * the catalog in step with them, and recording images measured on a Nitro host.
 */
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EifDescription } from '../eif/index.js';
import { hashFile, readBoundedFile, sha256File } from '../util/node.js';
import type { ImageCatalog, ImageEntry, ImageLanguage } from './images.js';
import { ImageCatalogError } from './errors.js';
import { computeSimulatedPcrs, parseImageCatalog } from './images.js';

/** Root of the package (the repository root in a checkout); the same from src/ and lib/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The catalog shipped with the package. */
export const DEFAULT_IMAGE_CATALOG_PATH = fileURLToPath(
  new URL('../../enclave/images.json', import.meta.url),
);
/** Largest catalog file read. */
export const MAX_CATALOG_BYTES = 1024 * 1024;

/** Reads and validates an image catalog (default: the package's enclave/images.json). */
export async function loadImageCatalog(
  path: string = DEFAULT_IMAGE_CATALOG_PATH,
): Promise<ImageCatalog> {
  let text: string;
  try {
    text = (await readBoundedFile(path, MAX_CATALOG_BYTES)).toString('utf8');
  } catch (e) {
    throw new ImageCatalogError(
      'CATALOG_UNREADABLE',
      `cannot read image catalog ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ImageCatalogError(
      'CATALOG_UNREADABLE',
      `image catalog ${path} is not JSON: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return parseImageCatalog(json);
}

/** The catalog as written to disk: two-space JSON and a final newline. */
export function formatCatalog(catalog: ImageCatalog): string {
  return JSON.stringify(catalog, null, 2) + '\n';
}

/** Writes a catalog after validating it. */
export async function writeCatalog(path: string, catalog: ImageCatalog): Promise<void> {
  await writeFile(path, formatCatalog(parseImageCatalog(catalog)));
}

/** Files and folders, relative to the root, that make up every image's recipe. */
export const SHARED_RECIPE_PATHS = [
  'enclave/shared',
  'enclave/nsm-helper',
  'enclave/jail',
  'enclave/build-images.sh',
] as const;

/** Build products that may sit next to recipe files and are not part of them. */
const IGNORED = new Set(['tee-nsm', 'tee-jail', '.DS_Store']);

async function walk(root: string, rel: string, out: string[]): Promise<void> {
  const abs = join(root, rel);
  const st = await stat(abs);
  if (st.isFile()) {
    out.push(rel.split(sep).join('/'));
    return;
  }
  for (const e of await readdir(abs, { withFileTypes: true })) {
    if (IGNORED.has(e.name) || e.name.endsWith('.o')) continue;
    await walk(root, join(rel, e.name), out);
  }
}

/** The recipe files of the image `name` (its folder enclave/images/<name>), sorted. */
export async function recipeFiles(root: string, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of [`enclave/images/${name}`, ...SHARED_RECIPE_PATHS]) await walk(root, p, out);
  return out.sort();
}

/** SHA-256 of each recipe file of the image `name`. */
export async function hashRecipe(root: string, name: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of await recipeFiles(root, name)) out[f] = await sha256File(join(root, f));
  return out;
}

/**
 * The toolchain pins of a Dockerfile: every `ARG <NAME>_VERSION=<v>` as `{<name>: v}` and the
 * Debian base tag of `ARG DEBIAN_IMAGE=debian:<tag>@sha256:…` as `{debian: tag}`, and the apt
 * snapshot date of `ARG DEBIAN_SNAPSHOT=<stamp>` as `{debianSnapshot: stamp}`.
 */
export function toolchainFromDockerfile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^ARG\s+([A-Z0-9]+)_VERSION=(\S+)\s*$/gm))
    out[m[1]!.toLowerCase()] = m[2]!;
  const base = /^ARG\s+DEBIAN_IMAGE=debian:([^@\s]+)@sha256:[0-9a-f]{64}\s*$/m.exec(text);
  if (base !== null) out['debian'] = base[1]!;
  const snapshot = /^ARG\s+DEBIAN_SNAPSHOT=(\S+)\s*$/m.exec(text);
  if (snapshot !== null) out['debianSnapshot'] = snapshot[1]!;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The toolchain pins of image `name`: its recipe.json's `toolchain`, else its Dockerfile's. */
async function toolchainOf(root: string, name: string): Promise<Record<string, string>> {
  const dir = join(root, 'enclave/images', name);
  let recipe: string | undefined;
  try {
    recipe = await readFile(join(dir, 'recipe.json'), 'utf8');
  } catch {
    recipe = undefined;
  }
  if (recipe !== undefined) {
    const t = (JSON.parse(recipe) as { toolchain?: Record<string, string> }).toolchain ?? {};
    return Object.fromEntries(Object.entries(t).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  return toolchainFromDockerfile(await readFile(join(dir, 'Dockerfile'), 'utf8'));
}

/** The newest entry of each image name: the ones the recipe files in the tree belong to. */
export function currentEntries(catalog: ImageCatalog): ImageEntry[] {
  const latest = new Map<string, ImageEntry>();
  const key = (v: string) =>
    v
      .split('.')
      .map((n) => n.padStart(10, '0'))
      .join('.');
  for (const i of catalog.images) {
    const cur = latest.get(i.name);
    if (cur === undefined || key(i.version) > key(cur.version)) latest.set(i.name, i);
  }
  return [...latest.values()];
}

function diffRecord(what: string, want: Record<string, string>, have: Record<string, string>) {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(want), ...Object.keys(have)]))
    if (want[k] !== have[k])
      out.push(
        have[k] === undefined
          ? `${what} ${k} is missing from the catalog`
          : want[k] === undefined
            ? `${what} ${k} is in the catalog but not in the tree`
            : `${what} ${k} changed`,
      );
  return out;
}

/**
 * What is out of date in `catalog` relative to the tree at `root`: for the newest entry of each
 * name, recipe hashes and toolchain pins against the files; for every entry, the simulated PCRs
 * against their construction. Empty when all is in step.
 */
export async function catalogDrift(catalog: ImageCatalog, root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of currentEntries(catalog)) {
    const id = `${e.name}@${e.version}`;
    for (const d of diffRecord('recipe file', await hashRecipe(root, e.name), e.recipe))
      out.push(`${id}: ${d}`);
    for (const d of diffRecord('toolchain pin', await toolchainOf(root, e.name), e.toolchain))
      out.push(`${id}: ${d}`);
  }
  for (const e of catalog.images) {
    const s = await computeSimulatedPcrs(e);
    if (s.pcr0 !== e.simulated.pcr0 || s.pcr1 !== e.simulated.pcr1 || s.pcr2 !== e.simulated.pcr2)
      out.push(`${e.name}@${e.version}: simulated PCRs are not those of its simulated EIF`);
  }
  return out;
}

/**
 * `catalog` with the newest entry of each name brought in step with the tree (recipe hashes,
 * toolchain pins) and every simulated PCR recomputed. An entry already measured on a Nitro host
 * keeps its recipe: changing it needs a new version (`addImageVersion`), else `CATALOG_STALE`.
 */
export async function refreshCatalog(catalog: ImageCatalog, root: string): Promise<ImageCatalog> {
  const current = new Set(currentEntries(catalog));
  const images: ImageEntry[] = [];
  for (const e of catalog.images) {
    let next = e;
    if (current.has(e)) {
      const recipe = await hashRecipe(root, e.name);
      const toolchain = await toolchainOf(root, e.name);
      const changed =
        diffRecord('', recipe, e.recipe).length + diffRecord('', toolchain, e.toolchain).length > 0;
      if (changed && e.pcrs !== null)
        throw new ImageCatalogError(
          'CATALOG_STALE',
          `${e.name}@${e.version} is published with measured PCRs but its recipe changed; ` +
            `add a new version for it (scripts/images.mjs add-version ${e.name} <version>)`,
          { path: `images.${catalog.images.indexOf(e)}.recipe` },
        );
      next = { ...e, recipe, toolchain };
    }
    images.push({ ...next, simulated: await computeSimulatedPcrs(next) });
  }
  return parseImageCatalog({ ...catalog, images });
}

/** `catalog` plus a new, not yet measured version of image `name`, in step with the tree. */
export async function addImageVersion(
  catalog: ImageCatalog,
  root: string,
  name: string,
  version: string,
): Promise<ImageCatalog> {
  const base = currentEntries(catalog).find((e) => e.name === name);
  if (base === undefined)
    throw new ImageCatalogError('IMAGE_NOT_FOUND', `no image named ${name} in the catalog`);
  const entry: ImageEntry = {
    ...base,
    version,
    recipe: await hashRecipe(root, base.name),
    toolchain: await toolchainOf(root, base.name),
    pcrs: null,
    eif: null,
  };
  entry.simulated = await computeSimulatedPcrs(entry);
  return parseImageCatalog({ ...catalog, images: [...catalog.images, entry] });
}

/** What nitro-cli build-enclave printed, and where the EIF will be published. */
export interface MeasuredBuild {
  name: string;
  version: string;
  /** Our own description of the built EIF (`describeEifFile`). */
  description: EifDescription;
  /** The `Measurements` object nitro-cli build-enclave printed. */
  nitroMeasurements: { PCR0?: unknown; PCR1?: unknown; PCR2?: unknown };
  eifPath: string;
  url: string;
}

/**
 * `catalog` with the measured PCRs, digest and download location of a built image. Refuses
 * (`IMAGE_MISMATCH`) when nitro-cli's PCRs differ from ours, so a published value is always one
 * both implementations agree on.
 */
export async function recordMeasuredImage(
  catalog: ImageCatalog,
  build: MeasuredBuild,
): Promise<ImageCatalog> {
  const i = catalog.images.findIndex((e) => e.name === build.name && e.version === build.version);
  if (i < 0)
    throw new ImageCatalogError(
      'IMAGE_NOT_FOUND',
      `no image ${build.name}@${build.version} in the catalog`,
    );
  const m = build.description.measurements;
  const n = build.nitroMeasurements;
  if (n.PCR0 !== m.pcr0 || n.PCR1 !== m.pcr1 || n.PCR2 !== m.pcr2)
    throw new ImageCatalogError(
      'IMAGE_MISMATCH',
      `nitro-cli measured ${JSON.stringify(n)} but the EIF reads as ${JSON.stringify(m)}`,
      { path: `images.${i}.pcrs` },
    );
  const { sha256, bytes: size } = await hashFile(build.eifPath);
  const images = catalog.images.slice();
  images[i] = {
    ...images[i]!,
    pcrs: { pcr0: m.pcr0, pcr1: m.pcr1, pcr2: m.pcr2 },
    eif: { sha256, size, url: build.url },
  };
  return parseImageCatalog({ ...catalog, images });
}

/** The descriptor written into an image as /opt/tee-compile/image.json. */
export function imageJson(entry: ImageEntry): {
  name: string;
  version: string;
  language: ImageLanguage;
  toolchain: Record<string, string>;
} {
  return {
    name: entry.name,
    version: entry.version,
    language: entry.language,
    toolchain: entry.toolchain,
  };
}
