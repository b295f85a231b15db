#!/usr/bin/env node
/**
 * Writes schemas/policy.schema.json, the JSON Schema of the policy file, from its zod schema
 * (src/verify/policy-schema.ts). Run from the repository root after changing the schema:
 *
 *   node scripts/policy-schema.mjs          write the file
 *   node scripts/policy-schema.mjs --check  exit 1 when the committed file is not current
 *
 * test/verify/policy-schema.test.ts runs the same comparison.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { format } from 'prettier';

const root = process.cwd();
const out = resolve(root, 'schemas/policy.schema.json');

// Bundle the TypeScript schema (zod included) and load it from memory: no build step needed.
const res = await build({
  entryPoints: [resolve(root, 'src/verify/policy-schema.ts')],
  bundle: true,
  platform: 'neutral',
  mainFields: ['module', 'main'],
  format: 'esm',
  write: false,
  logLevel: 'error',
});
const code = res.outputFiles[0].text;
const mod = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
const text = await format(JSON.stringify(mod.policyJsonSchema()), { parser: 'json' });

if (process.argv.includes('--check')) {
  const current = await readFile(out, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(`${out} is not current: run node scripts/policy-schema.mjs\n`);
    process.exit(1);
  }
} else {
  await writeFile(out, text);
}
