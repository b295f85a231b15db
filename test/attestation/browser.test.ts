import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/attestation/', import.meta.url));
const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;

/** Every module specifier reachable from `entry` through relative imports (static and dynamic). */
function reachable(entry: string): { files: string[]; external: Set<string> } {
  const seen = new Set<string>();
  const external = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.')) todo.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else external.add(spec);
    }
  }
  return { files: [...seen], external };
}

describe('the attestation module in a browser', () => {
  const { files, external } = reachable(`${SRC}index.ts`);

  it('when following the imports of index.ts, it reaches the verifier, the codec and the software NSM', () => {
    const names = files.map((f) => f.slice(SRC.length));
    for (const f of [
      'verify.ts',
      'chain.ts',
      'cbor.ts',
      'x509.ts',
      'nsm-codec.ts',
      'software-nsm.ts',
      'sim-pki.ts',
    ])
      expect(names).toContain(f);
    // The strict CBOR decoder and the encoder are shared with the EIF module.
    for (const f of ['decode.ts', 'encode.ts']) expect(files).toContain(resolve(SRC, '../cbor', f));
  });

  it('when listing what those files import from outside, there is no Node built-in', () => {
    const node = [...external].filter((s) => s.startsWith('node:') || builtinModules.includes(s));
    expect(node).toEqual([]);
    expect([...external].sort()).toEqual([
      '@noble/hashes/sha2.js',
      '@peculiar/x509',
      'reflect-metadata',
    ]);
  });

  it('when following the verifier alone, it needs neither @peculiar/x509 nor reflect-metadata', () => {
    const v = reachable(`${SRC}verify.ts`);
    expect([...v.external]).toEqual(['@noble/hashes/sha2.js']);
  });
});
