/** Finding and reading lockfiles on disk. Node only. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { provenanceError } from '../errors.js';
import { LOCKFILE_NAMES, parseLockedDependencies } from './parse.js';
import type { Language, LockfileContents } from './parse.js';
import type { LockedDependency } from '../types.js';

/** Lockfiles larger than this are refused. */
export const MAX_LOCKFILE_BYTES = 64 * 1024 * 1024;

async function readIfPresent(file: string): Promise<string | undefined> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  if (size > MAX_LOCKFILE_BYTES) {
    throw provenanceError(
      'LOCKFILE_MALFORMED',
      `${file} is larger than ${MAX_LOCKFILE_BYTES} bytes`,
    );
  }
  return readFile(file, 'utf8');
}

/** Reads the files a language's lockfile parsing needs from `dir`. */
export async function readLockfiles(dir: string, language: Language): Promise<LockfileContents> {
  const files: LockfileContents = {};
  for (const name of LOCKFILE_NAMES[language]) {
    const text = await readIfPresent(join(dir, name));
    if (text !== undefined) files[name] = text;
  }
  return files;
}

/**
 * Finds and parses the lockfile(s) of `language` in `dir`. `workdir` is `dir` relative to the
 * source root (paths that stay inside the source root are part of the source).
 */
export async function readLockedDependencies(
  dir: string,
  language: Language,
  opts: { workdir?: string } = {},
): Promise<LockedDependency[]> {
  return parseLockedDependencies(language, await readLockfiles(dir, language), opts);
}

/**
 * Guesses the language of a project from its files: Cargo.toml -> rust, go.mod -> go,
 * package.json -> node. Null when none or several match.
 */
export async function detectLanguage(dir: string): Promise<Language | null> {
  const found: Language[] = [];
  if ((await readIfPresent(join(dir, 'Cargo.toml'))) !== undefined) found.push('rust');
  if ((await readIfPresent(join(dir, 'go.mod'))) !== undefined) found.push('go');
  if ((await readIfPresent(join(dir, 'package.json'))) !== undefined) found.push('node');
  return found.length === 1 ? found[0]! : null;
}
