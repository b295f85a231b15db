#!/usr/bin/env node
/**
 * Writes schemas/build.schema.json, the JSON Schema of build.json, from its zod schema
 * (src/provenance/build-config.ts, `buildJsonSchemaDocument`). Run from the repository root after
 * changing the schema:
 *
 *   node scripts/build-schema.mjs          write the file
 *   node scripts/build-schema.mjs --check  exit 1 when the committed file is not current
 *
 * test/provenance/build-schema.test.ts runs the same comparison.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { format } from 'prettier';

const root = process.cwd();
const out = resolve(root, 'schemas/build.schema.json');

// Bundle the TypeScript schema (zod included) and load it from memory: no build step needed.
const res = await build({
  entryPoints: [resolve(root, 'src/provenance/build-config.ts')],
  bundle: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  format: 'esm',
  write: false,
  logLevel: 'error',
});
const code = res.outputFiles[0].text;
const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
const text = await format(JSON.stringify(mod.buildJsonSchemaDocument()), { parser: 'json' });

if (process.argv.includes('--check')) {
  const current = await readFile(out, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(`${out} is not current: run node scripts/build-schema.mjs\n`);
    process.exit(1);
  }
} else {
  await writeFile(out, text);
  process.stdout.write(`wrote ${out}\n`);
}
