import { describe, expect, it } from '@jest/globals';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reachable } from '../support/imports.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

describe('the pure face of provenance', () => {
  it('when following every import from index.ts, no Node-only module is reachable', () => {
    const { files, external: bare } = reachable(join(SRC, 'provenance/index.ts'));
    expect(
      [...bare].filter(
        (s) => s.startsWith('node:') || ['fs', 'path', 'crypto', 'child_process'].includes(s),
      ),
    ).toEqual([]);
    expect([...bare].sort()).toEqual(['@noble/hashes/legacy.js', '@noble/hashes/sha2.js', 'zod']);
    expect(files.some((f) => f.endsWith('node.ts') || f.includes('/depset/'))).toBe(false);
  });

  it('when following the imports of node.ts, it does reach git and the file system (the check can fail)', () => {
    const { external: bare } = reachable(join(SRC, 'provenance/node.ts'));
    expect(bare.has('node:child_process')).toBe(true);
  });
});
