/**
 * The image recipe, `enclave/images/<name>/recipe.json`: every input of an enclave image pinned by
 * SHA-256 (Debian packages by exact version, toolchain tarballs by URL, the AWS boot blobs), plus
 * what tee-compile adds (worker bundle, helpers, files) and the command the image runs.
 */
import { z } from 'zod';
import { ImageError } from './errors.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lower-case hex digits' });
const absPath = z
  .string()
  .regex(/^(?:\/[A-Za-z0-9._+@-]+)+$/, { error: 'expected an absolute path without . or ..' })
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), {
    error: 'expected an absolute path without . or ..',
  });
const repoPath = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._/-]*$/, { error: 'expected a repository-relative path' })
  .refine((p) => !p.split('/').some((s) => s === '' || s === '.' || s === '..'), {
    error: 'expected a repository-relative path without . or ..',
  });

/** A Debian package, pinned. */
export const DebPackageSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/),
  version: z.string().regex(/^[A-Za-z0-9.+~:-]+$/),
  architecture: z.string().regex(/^[a-z0-9-]+$/),
  /** Path below the mirror, as the Packages index's `Filename`. */
  filename: z.string().regex(/^pool\/[A-Za-z0-9._+~%/-]+\.deb$/),
  sha256,
});

/** A boot blob from aws-nitro-enclaves-cli `blobs/<arch>/`, pinned by SHA-256 or git blob id. */
const BlobSchema = z
  .strictObject({
    file: z.string().regex(/^[A-Za-z0-9._-]+$/),
    sha256: sha256.optional(),
    /** Git blob id (SHA-1) in the aws-nitro-enclaves-cli commit named by `blobs.commit`. */
    gitBlob: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional(),
  })
  .refine((b) => b.sha256 !== undefined || b.gitBlob !== undefined, {
    error: 'pin the blob by sha256 or gitBlob',
  });

export const RecipeSchema = z.strictObject({
  $schema: z.string().optional(),
  format: z.literal(1),
  name: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/),
  version: z.string().regex(/^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)$/),
  language: z.enum(['rust', 'node', 'go']),
  /** Fixed time of every file in the ramdisks and of the metadata. */
  sourceDateEpoch: z.number().int().nonnegative(),
  toolchain: z.record(z.string().regex(/^[a-z][a-zA-Z0-9]*$/), z.string().min(1)),
  debian: z
    .strictObject({
      suite: z.string().regex(/^[a-z0-9-]+$/),
      /** A cache, never trusted: every .deb is checked against its sha256 here. */
      mirror: z.url({ protocol: /^(?:https?|file)$/ }),
      architecture: z.literal('amd64'),
      /** What mmdebstrap is asked to install (besides Essential: yes); `packages` pins its closure. */
      include: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/)).min(1),
      /** The image's packages: the whole closure, each pinned. */
      packages: z.array(DebPackageSchema).min(1),
      /** What the throw-away tree the helpers are compiled in is asked for (a compiler). */
      buildInclude: z.array(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/)).default([]),
      /** The closure of `buildInclude`, pinned (not in the image). */
      buildPackages: z.array(DebPackageSchema).default([]),
    })
    .optional(),
  tarballs: z
    .array(
      z.strictObject({
        url: z.url({ protocol: /^(?:https?|file)$/ }),
        sha256,
        into: absPath,
        stripComponents: z.number().int().min(0).max(8).default(0),
      }),
    )
    .default([]),
  blobs: z.strictObject({
    /** aws-nitro-enclaves-cli commit the blobs come from. */
    commit: z.string().regex(/^[0-9a-f]{40}$/),
    kernel: BlobSchema,
    kernelVersion: z.string().min(1),
    init: BlobSchema,
    nsm: BlobSchema,
    cmdline: BlobSchema,
  }),
  /** The tee-compile worker, bundled with esbuild from the repository's source. */
  worker: z
    .strictObject({ entry: repoPath, into: absPath, target: z.string().regex(/^node\d+$/) })
    .optional(),
  /** C helpers compiled in the build tree (needs `debian.buildPackages`). */
  helpers: z
    .array(
      z.strictObject({ source: repoPath, into: absPath, mode: z.string().regex(/^0[0-7]{3}$/) }),
    )
    .default([]),
  files: z
    .array(
      z.strictObject({ source: repoPath, path: absPath, mode: z.string().regex(/^0[0-7]{3}$/) }),
    )
    .default([]),
  /** Symbolic links added to the image (e.g. a toolchain's commands on PATH), owned by root. */
  links: z
    .array(
      z.strictObject({
        path: absPath,
        target: z.string().regex(/^[A-Za-z0-9._/+-]+$/, { error: 'expected a link target path' }),
      }),
    )
    .default([]),
  /** What nitro-cli takes from the Docker image's CMD and ENV: the customer ramdisk's cmd, env. */
  cmd: z.array(z.string().min(1)).min(1),
  env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*=[^\n]*$/)).default([]),
});

export type Recipe = z.infer<typeof RecipeSchema>;
export type DebPackage = z.infer<typeof DebPackageSchema>;
export type RecipeBlob = z.infer<typeof BlobSchema>;

/** Validates a parsed recipe; errors name the failing field. */
export function parseRecipe(json: unknown): Recipe {
  const r = RecipeSchema.safeParse(json);
  if (r.success) {
    if (r.data.helpers.length > 0 && (r.data.debian?.buildPackages.length ?? 0) === 0)
      throw new ImageError('RECIPE_INVALID', 'helpers need debian.buildPackages (a compiler)', {
        path: 'helpers',
      });
    return r.data;
  }
  const first = r.error.issues[0]!;
  const path = first.path.map(String).join('.');
  throw new ImageError(
    'RECIPE_INVALID',
    `invalid recipe: ${r.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
      .join('; ')}`,
    { path: path === '' ? undefined : path, cause: r.error },
  );
}

/** JSON Schema of recipe.json (enclave/images/recipe.schema.json). */
export function recipeJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RecipeSchema, { target: 'draft-2020-12', io: 'input' });
}
