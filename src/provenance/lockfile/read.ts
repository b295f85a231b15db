/** Finding and reading lockfiles on disk. Node only. */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { provenanceError } from '../errors.js';
import { LOCKFILE_NAMES, parseLockedDependencies } from './parse.js';
import type { Language, LockfileContents } from './parse.js';
import type { LockedDependency } from '../types.js';
import type { NpmPlatform } from './platform.js';

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

let libc: string | undefined | null = null;

/** The C library as npm-install-checks finds it: `/usr/bin/ldd` first, then Node's own report. */
function detectLibc(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const ldd = readFileSync('/usr/bin/ldd', 'utf8');
    if (ldd.includes('musl')) return 'musl';
    if (ldd.includes('GNU C Library')) return 'glibc';
    return undefined;
  } catch {
    // no ldd: as npm, ask the runtime
  }
  const r = process.report as { excludeNetwork?: boolean; getReport(): object };
  const before = r.excludeNetwork;
  r.excludeNetwork = true;
  let report: { header?: { glibcVersionRuntime?: string }; sharedObjects?: string[] };
  try {
    report = r.getReport();
  } finally {
    r.excludeNetwork = before;
  }
  if (report.header?.glibcVersionRuntime !== undefined) return 'glibc';
  if (report.sharedObjects?.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-')))
    return 'musl';
  return undefined;
}

/**
 * This machine as npm sees it (npm-install-checks `currentEnv`). An enclave runs on its host's
 * CPU and the images are Linux with glibc, so the client and the worker agree on it.
 */
export function currentNpmPlatform(): NpmPlatform {
  if (libc === null) libc = detectLibc();
  return { os: process.platform, cpu: process.arch, ...(libc !== undefined ? { libc } : {}) };
}

/**
 * The machine the enclave will be, as npm sees it, from the host that prepares its inputs: the
 * host itself on Linux (an enclave runs on its host's CPU, the local sandbox on the host), else
 * Linux with glibc on this CPU (the images are Debian).
 */
export function enclaveNpmPlatform(): NpmPlatform {
  return process.platform === 'linux'
    ? currentNpmPlatform()
    : { os: 'linux', cpu: process.arch, libc: 'glibc' };
}

/**
 * Finds and parses the lockfile(s) of `language` in `dir`. `workdir` is `dir` relative to the
 * source root (paths that stay inside the source root are part of the source). Optional npm
 * packages for other platforms than `platform` (default: this machine's) are left out.
 */
export async function readLockedDependencies(
  dir: string,
  language: Language,
  opts: { workdir?: string; platform?: NpmPlatform } = {},
): Promise<LockedDependency[]> {
  return parseLockedDependencies(language, await readLockfiles(dir, language), {
    ...opts,
    platform: opts.platform ?? currentNpmPlatform(),
  });
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
