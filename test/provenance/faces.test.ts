import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Every module specifier a file imports or re-exports (static and type-only alike). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g))
    out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

/** The files reachable from `entry` through relative imports, with the bare specifiers they use. */
function reachable(entry: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const s of specifiers(f)) {
      if (s.startsWith('.')) todo.push(join(dirname(f), s.replace(/\.js$/, '.ts')));
      else bare.add(s);
    }
  }
  return { files, bare };
}

describe('the pure face of provenance', () => {
  it('when following every import from index.ts, no Node-only module is reachable', () => {
    const { files, bare } = reachable(join(SRC, 'provenance/index.ts'));
    expect(
      [...bare].filter(
        (s) => s.startsWith('node:') || ['fs', 'path', 'crypto', 'child_process'].includes(s),
      ),
    ).toEqual([]);
    expect([...bare].sort()).toEqual(['@noble/hashes/legacy.js', '@noble/hashes/sha2.js', 'zod']);
    expect([...files].some((f) => f.endsWith('node.ts') || f.includes('/depset/'))).toBe(false);
  });

  it('when following the imports of node.ts, it does reach git and the file system (the check can fail)', () => {
    const { bare } = reachable(join(SRC, 'provenance/node.ts'));
    expect(bare.has('node:child_process')).toBe(true);
  });
});
