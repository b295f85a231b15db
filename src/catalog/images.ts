/**
 * The catalog of published enclave images (enclave/images.json): its schema, lookup, and the
 * simulated measurements the local backend attests with.
 *
 * Runtime-neutral (no `node:` imports): the verifier uses it in any runtime. File access lives in
 * `./images-node.js`.
 *
 * Simulated measurements. Real PCRs exist only after an image is built into an EIF on a Nitro host
 * with Docker. So that the simulated backend still attests with values that identify the recipe,
 * each image has a *simulated EIF*, assembled with the EIF writer from:
 *   - kernel  = {@link SIMULATED_KERNEL} (fixed placeholder bytes),
 *   - cmdline = {@link SIMULATED_CMDLINE},
 *   - ramdisk 0 (bootstrap) = {@link SIMULATED_BOOTSTRAP} (fixed placeholder bytes),
 *   - ramdisk 1 (application) = the image descriptor: canonical JSON (keys sorted, no spaces) of
 *     `{format, name, version, language, toolchain, recipe}`, where `recipe` maps each recipe file
 *     (repository-relative path) to its SHA-256,
 *   - metadata naming the image (not measured);
 * and `simulated` holds that EIF's PCR0/1/2, computed by the EIF measurement code exactly as for a
 * real image. PCR1 is therefore the same for every image (as with real images built by one
 * nitro-cli), and changing any recipe file, pin, name or version changes PCR0 and PCR2.
 */
import { z } from 'zod';
import { ImageCatalogError } from './errors.js';
import type { EifInput } from '../eif/index.js';
import { LANGUAGES, type Language, type TrustedImage } from '../contracts/index.js';

/** Languages an image can build. */
export const IMAGE_LANGUAGES = LANGUAGES;
export type ImageLanguage = Language;

const hex = (n: number, what: string) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), {
    error: `expected ${n} lower-case hex digits (${what})`,
  });

const pcrSet = z
  .strictObject({
    pcr0: hex(96, 'PCR0'),
    pcr1: hex(96, 'PCR1'),
    pcr2: hex(96, 'PCR2'),
  })
  .meta({ description: 'PCR0-2, lower-case hex.' });

/** Schema of one catalog entry. */
export const ImageEntrySchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { error: 'expected lower-case words joined by -' })
      .meta({ description: 'Image line, e.g. rust.' }),
    version: z
      .string()
      .regex(/^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)$/, {
        error: 'expected a version like 1.2.3',
      })
      .meta({ description: 'Version of the image (not of its toolchain).' }),
    language: z.enum(IMAGE_LANGUAGES).meta({ description: 'What the image builds.' }),
    toolchain: z
      .record(z.string().regex(/^[a-z][a-zA-Z0-9]*$/), z.string().min(1))
      .meta({ description: 'Pinned versions in the image (e.g. rust, node, debian).' }),
    recipe: z
      .record(
        z.string().regex(/^(?:enclave\/|worker:src\/)[A-Za-z0-9._/-]+$/, {
          error: 'expected a path under enclave/, or worker:<entry> (the worker bundle)',
        }),
        hex(64, 'SHA-256 of the file'),
      )
      .meta({
        description:
          'Recipe digests: each recipe file (repository-relative) and its SHA-256, and worker:<entry>, the SHA-256 of the worker bundle built into the image.',
      }),
    pcrs: pcrSet
      .nullable()
      .meta({ description: 'Measured by nitro-cli on a Nitro host; null until then.' }),
    eif: z
      .strictObject({
        sha256: hex(64, 'SHA-256 of the .eif'),
        size: z.number().int().positive(),
        url: z.url({ protocol: /^https$/, error: 'expected an https URL' }),
      })
      .nullable()
      .meta({ description: 'The published .eif; null until built on a Nitro host.' }),
    simulated: pcrSet.meta({
      description: 'PCR0-2 of the simulated EIF (see src/enclave/images.ts).',
    }),
    retired: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a date like 2027-01-31' })
      .optional()
      .meta({
        description:
          'Date the image stopped being trusted by default; a policy may still name it explicitly.',
      }),
  })
  .meta({ description: 'A published enclave image.' });

/** Schema of enclave/images.json. */
export const ImageCatalogSchema = z
  .strictObject({
    $schema: z.string().optional(),
    schemaVersion: z.literal(1),
    images: z.array(ImageEntrySchema).min(1),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.images.forEach((img, i) => {
      const key = `${img.name}@${img.version}`;
      if (seen.has(key))
        ctx.addIssue({ code: 'custom', path: ['images', i], message: `duplicate image ${key}` });
      seen.add(key);
      if ((img.pcrs === null) !== (img.eif === null))
        ctx.addIssue({
          code: 'custom',
          path: ['images', i, img.pcrs === null ? 'pcrs' : 'eif'],
          message: 'pcrs and eif are set together, when the image is built on a Nitro host',
        });
    });
  })
  .meta({ title: 'tee-compile enclave images', description: 'Published enclave images.' });

export type PcrSet = z.infer<typeof pcrSet>;

/** JSON Schema of enclave/images.json (what enclave/images.schema.json holds). */
export function imageCatalogJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ImageCatalogSchema, { target: 'draft-2020-12', io: 'input' });
}
export type ImageEntry = z.infer<typeof ImageEntrySchema>;
export type ImageCatalog = z.infer<typeof ImageCatalogSchema>;

/** Validates a parsed catalog; errors name the failing field (`images.0.pcrs.pcr0`). */
export function parseImageCatalog(json: unknown): ImageCatalog {
  const r = ImageCatalogSchema.safeParse(json);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const first = issues[0]!;
  const path = first.path.map(String).join('.');
  const all = issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  throw new ImageCatalogError(
    'CATALOG_INVALID',
    `invalid image catalog: ${all}${issues.length > 5 ? `; and ${issues.length - 5} more` : ''}`,
    { path: path === '' ? undefined : path, cause: r.error },
  );
}

/** What to look for. */
export interface ImageQuery {
  language: ImageLanguage;
  name?: string;
  version?: string;
  /** Only images measured on a Nitro host (`pcrs` set), as the nitro backend needs. */
  measured?: boolean;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * The image for a build, chosen by explicit rules and never by the catalog's order:
 *
 * 1. entries of the language, and of the name, version and measured state when asked;
 * 2. retired entries only when the version is named (a build.json or policy that pins one);
 * 3. without a name, the language's own line (the entry named after the language, e.g. `node`)
 *    when there is one, else the one line that matches (`IMAGE_AMBIGUOUS` when several do);
 * 4. of that line, the highest version.
 *
 * Throws `IMAGE_NOT_FOUND` naming what the catalog has.
 */
export function findImage(catalog: ImageCatalog, query: ImageQuery): ImageEntry {
  let matches = catalog.images.filter(
    (i) =>
      i.language === query.language &&
      (query.name === undefined || i.name === query.name) &&
      (query.version === undefined || i.version === query.version) &&
      (query.version !== undefined || i.retired === undefined) &&
      (query.measured !== true || i.pcrs !== null),
  );
  if (matches.length === 0) {
    const have = catalog.images
      .filter((i) => i.language === query.language)
      .map(
        (i) =>
          `${i.name}@${i.version}${i.pcrs === null ? ' (not yet measured)' : ''}${i.retired === undefined ? '' : ` (retired ${i.retired})`}`,
      );
    const wanted = [
      `language ${query.language}`,
      query.name === undefined ? '' : `name ${query.name}`,
      query.version === undefined ? '' : `version ${query.version}`,
      query.measured === true ? 'measured on a Nitro host' : '',
    ]
      .filter((s) => s !== '')
      .join(', ');
    throw new ImageCatalogError(
      'IMAGE_NOT_FOUND',
      `no enclave image with ${wanted}; the catalog has ${have.length === 0 ? 'none for this language' : have.join(', ')}`,
      { path: 'image' },
    );
  }
  if (query.name === undefined) {
    const own = matches.filter((i) => i.name === query.language);
    if (own.length > 0) matches = own;
    else {
      const lines = [...new Set(matches.map((i) => i.name))].sort();
      if (lines.length > 1)
        throw new ImageCatalogError(
          'IMAGE_AMBIGUOUS',
          `several enclave image lines build ${query.language} (${lines.join(', ')}) and none is named ${query.language}; name one in build.json ("image": {"name": …}) or the policy`,
          { path: 'image' },
        );
    }
  }
  return matches.reduce((best, i) => (compareVersions(i.version, best.version) > 0 ? i : best));
}

/**
 * The catalog's current images as the verifier's trusted images (real PCRs null until measured).
 * Retired entries are left out: a policy that still wants one names it (with its PCRs) itself.
 */
export function trustedImages(catalog: ImageCatalog): TrustedImage[] {
  return catalog.images
    .filter((i) => i.retired === undefined)
    .map((i) => ({
      name: i.name,
      version: i.version,
      pcr0: i.pcrs?.pcr0 ?? null,
      pcr1: i.pcrs?.pcr1 ?? null,
      pcr2: i.pcrs?.pcr2 ?? null,
      simulated: { ...i.simulated },
    }));
}

/**
 * Why `next` is not an append-only successor of `previous`: every released entry of `previous`
 * (one with measured PCRs) must still be in `next`, unchanged, except that it may gain a
 * `retired` date. Entries not yet released may change. Empty when `next` is a valid successor.
 */
export function catalogHistoryViolations(previous: ImageCatalog, next: ImageCatalog): string[] {
  const out: string[] = [];
  for (const old of previous.images) {
    if (old.pcrs === null) continue;
    const id = `${old.name}@${old.version}`;
    const now = next.images.find((i) => i.name === old.name && i.version === old.version);
    if (now === undefined) {
      out.push(`${id} was released and is gone (retire it instead of removing it)`);
      continue;
    }
    if (old.retired !== undefined && now.retired !== old.retired)
      out.push(`${id}: its retirement date ${old.retired} changed`);
    const { retired: _a, ...before } = old;
    const { retired: _b, ...after } = now;
    if (canonicalJson(before) !== canonicalJson(after))
      out.push(`${id} was released and its entry changed (add a new version instead)`);
  }
  return out;
}

/** Identifies the simulated-EIF construction; part of the descriptor, so a change shows. */
export const SIMULATED_FORMAT = 'tee-compile-simulated-eif/1';
/** Placeholder kernel of every simulated EIF. */
export const SIMULATED_KERNEL = new TextEncoder().encode(
  'tee-compile simulated enclave kernel (placeholder, not a bzImage)\n',
);
/** Kernel command line of every simulated EIF. */
export const SIMULATED_CMDLINE = 'console=ttyS0 tee-compile.simulated=1';
/** Placeholder bootstrap ramdisk of every simulated EIF. */
export const SIMULATED_BOOTSTRAP = new TextEncoder().encode(
  'tee-compile simulated bootstrap ramdisk (placeholder for init and nsm.ko)\n',
);

/** The fields of an entry that define its image. */
export type ImageIdentity = Pick<
  ImageEntry,
  'name' | 'version' | 'language' | 'toolchain' | 'recipe'
>;

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null)
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The application ramdisk of the simulated EIF: the image descriptor as canonical JSON. */
export function simulatedDescriptor(image: ImageIdentity): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson({
      format: SIMULATED_FORMAT,
      name: image.name,
      version: image.version,
      language: image.language,
      toolchain: image.toolchain,
      recipe: image.recipe,
    }),
  );
}

/** What the simulated EIF of `image` is assembled from. */
export function simulatedEifInput(image: ImageIdentity): EifInput {
  return {
    kernel: SIMULATED_KERNEL,
    cmdline: SIMULATED_CMDLINE,
    metadata: {
      ImageName: image.name,
      ImageVersion: image.version,
      BuildMetadata: {
        BuildTime: '1970-01-01T00:00:00Z',
        BuildTool: 'tee-compile',
        BuildToolVersion: SIMULATED_FORMAT,
        OperatingSystem: 'Linux',
        KernelVersion: 'simulated',
      },
      DockerInfo: null,
      CustomMetadata: null,
    },
    ramdisks: [SIMULATED_BOOTSTRAP, simulatedDescriptor(image)],
  };
}

/** PCR0/1/2 of the simulated EIF of `image`, measured like any EIF. */
export async function computeSimulatedPcrs(image: ImageIdentity): Promise<PcrSet> {
  // Loaded on demand: the EIF code (and the X.509 library it uses for signed images) is only
  // needed here, not by every command that reads the catalog.
  const { assembleEif, bytesSource, describeEif } = await import('../eif/index.js');
  const eif = await assembleEif(simulatedEifInput(image));
  const { measurements } = await describeEif(bytesSource(eif));
  return { pcr0: measurements.pcr0, pcr1: measurements.pcr1, pcr2: measurements.pcr2 };
}

/**
 * How a built EIF disagrees with its catalog entry: PCRs and SHA-256, when the entry has them.
 * Empty when they agree or when the entry is not measured yet (`pcrs` null).
 */
export function builtImageMismatches(
  entry: ImageEntry,
  built: { pcr0: string; pcr1: string; pcr2: string; sha256: string },
): string[] {
  const out: string[] = [];
  const id = `${entry.name}@${entry.version}`;
  if (entry.pcrs !== null)
    for (const k of ['pcr0', 'pcr1', 'pcr2'] as const)
      if (entry.pcrs[k] !== built[k])
        out.push(`${id}: ${k.toUpperCase()} is ${built[k]}, images.json has ${entry.pcrs[k]}`);
  if (entry.eif !== null && entry.eif.sha256 !== built.sha256)
    out.push(`${id}: EIF SHA-256 is ${built.sha256}, images.json has ${entry.eif.sha256}`);
  return out;
}
