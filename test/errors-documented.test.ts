/**
 * Codes are API (docs/errors.md): every code of every list in src/ (`export const …_ERROR_CODES`
 * or `…_FAILURES`, `[…] as const`) is documented, in backticks, on a page under docs/ or in the
 * README.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, codeLists, filesUnder } from './support/error-codes.js';

describe('error codes', () => {
  const docs = [...filesUnder(join(ROOT, 'docs'), '.md'), join(ROOT, 'README.md')]
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const lists = codeLists();

  it('when reading src/, it finds the code lists of every module', () => {
    const names = lists.map((l) => l.list);
    for (const n of ['ATTESTATION_ERROR_CODES', 'BUNDLE_ERROR_CODES', 'EIF_ERROR_CODES'])
      expect(names).toContain(n);
    expect(lists.every((l) => l.codes.length > 0)).toBe(true);
  });

  it('when looking each code up in the docs, every one is documented', () => {
    const missing = lists.flatMap((l) =>
      l.codes.filter((c) => !docs.includes(`\`${c}\``)).map((c) => `${l.list}: ${c}`),
    );
    expect(missing).toEqual([]);
  });
});
