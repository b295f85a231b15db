/**
 * Codes are API (docs/errors.md): every code of every list in src/ (`export const …_ERROR_CODES`
 * or `…_FAILURES`, `[…] as const`) is documented, in backticks, on a page under docs/ or in the
 * README.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return files(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

const LIST_RE = /export const ([A-Z_]*(?:ERROR_CODES|FAILURES)) = \[([\s\S]*?)\] as const/g;

describe('error codes', () => {
  const docs = [...files(join(ROOT, 'docs'), '.md'), join(ROOT, 'README.md')]
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');
  const lists = files(join(ROOT, 'src'), '.ts').flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(LIST_RE)].map((m) => ({
      list: m[1]!,
      codes: [...m[2]!.matchAll(/'([A-Z0-9_.]+)'/g)].map((c) => c[1]!),
    })),
  );

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
