/**
 * The code lists of src/ as the tests about codes read them: every `export const …_ERROR_CODES`
 * or `…_FAILURES = […] as const`, with the file it is in. Read from the sources (not imported) so
 * that a new list is found without being registered anywhere.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every file under `dir` whose name ends with `ext`. */
export function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return filesUnder(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

export interface CodeList {
  /** The constant's name, e.g. `BUNDLE_ERROR_CODES`. */
  list: string;
  /** The file, relative to the repository (`src/bundle/errors.ts`). */
  file: string;
  codes: string[];
}

const LIST_RE = /export const ([A-Z_]*(?:ERROR_CODES|FAILURES)) = \[([\s\S]*?)\] as const/g;

/** Every code list of src/. */
export function codeLists(): CodeList[] {
  return filesUnder(join(ROOT, 'src'), '.ts').flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(LIST_RE)].map((m) => ({
      list: m[1]!,
      file: relative(ROOT, f),
      codes: [...m[2]!.matchAll(/'([A-Z0-9_.]+)'/g)].map((c) => c[1]!),
    })),
  );
}
