#!/usr/bin/env node
/**
 * Writes every JSON Schema the repository generates from a zod schema, or checks that the committed
 * files are current:
 *
 *   schemas/build.schema.json    build.json         src/provenance/config/build-config.ts
 *   schemas/policy.schema.json   the policy file    src/verify/policy-schema.ts
 *   enclave/images.schema.json   the image catalog  src/catalog/images.ts
 *   enclave/images/recipe.schema.json   an image recipe   src/image/recipe.ts
 *
 *   node scripts/schemas.mjs          write the files
 *   node scripts/schemas.mjs --check  exit 1 naming each committed file that is not current
 *
 * The tests that compare the committed files with the zod schemas name this script.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { build } from 'esbuild';
import { format, resolveConfig } from 'prettier';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Each file, the module that generates it, and the function that returns the schema. */
const SCHEMAS = [
  ['schemas/build.schema.json', 'src/provenance/config/build-config.ts', 'buildJsonSchemaDocument'],
  ['schemas/policy.schema.json', 'src/verify/policy-schema.ts', 'policyJsonSchema'],
  ['enclave/images.schema.json', 'src/catalog/images.ts', 'imageCatalogJsonSchema'],
  ['enclave/images/recipe.schema.json', 'src/image/recipe.ts', 'recipeJsonSchema'],
];

// Bundle the TypeScript schemas (zod included) and load them from memory: no build step needed.
const res = await build({
  stdin: {
    contents: SCHEMAS.map(([, mod, fn]) => `export { ${fn} } from './${mod}';`).join('\n'),
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  format: 'esm',
  write: false,
  logLevel: 'error',
});
const code = res.outputFiles[0].text;
const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, , fn] of SCHEMAS) {
  const path = join(root, file);
  // Formatted as `npm run format` leaves the file, so that format:check agrees.
  const text = await format(JSON.stringify(mod[fn](), null, 2), {
    ...(await resolveConfig(path)),
    filepath: path,
  });
  const current = await readFile(path, 'utf8').catch(() => '');
  if (current === text) continue;
  if (check) {
    process.stderr.write(`${file} is not current: run node scripts/schemas.mjs\n`);
    stale++;
  } else {
    await writeFile(path, text);
    process.stdout.write(`wrote ${file}\n`);
  }
}
if (stale > 0) process.exit(1);
