/**
 * Collects the build's outputs: every file matched by an `output.files` glob (picomatch, relative
 * to the work directory), each a regular file inside the source tree (a symlink, even one that
 * stays inside, is refused: the bytes attested must be the bytes at that path), hashed with SHA-256.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import { sha256File } from '../util/node.js';
import { join, posix } from 'node:path';
import picomatch from 'picomatch';
import { WorkerError } from '../protocol/index.js';

/** At most this many outputs (the provenance lists each one). */
export const MAX_OUTPUTS = 10_000;

/** One output file. */
export interface OutputFile {
  /** Subject name: path relative to the source root. */
  name: string;
  /** Where it is on disk. */
  file: string;
  sha256: string;
  size: number;
  executable: boolean;
}

function invalid(message: string, path: string): WorkerError {
  return new WorkerError('OUTPUT_INVALID', message, { path });
}

/**
 * Finds and hashes the outputs. `srcRoot` is the source root, `workdir` the directory of
 * build.json relative to it, `globs` the config's `output.files`. Throws OUTPUT_MISSING listing
 * every glob that matched nothing, OUTPUT_INVALID for a symlink, special file or path outside.
 */
export async function collectOutputs(
  srcRoot: string,
  workdir: string,
  globs: readonly string[],
): Promise<OutputFile[]> {
  const base = workdir === '.' ? srcRoot : join(srcRoot, workdir);
  const realRoot = await realpath(srcRoot);
  const found = new Map<string, { abs: string; size: number; mode: number }>();
  const missing: string[] = [];
  for (const [gi, glob] of globs.entries()) {
    const path = `output.files.${gi}`;
    const scan = picomatch.scan(glob);
    const start = scan.isGlob ? scan.base : glob;
    const isMatch = picomatch(glob, { dot: false });
    // A glob without `**`, braces, brackets or parentheses matches at one depth only (each of its
    // `/`-separated parts is one path component): deeper directories are not walked (a root-level
    // `pkg-*.tgz` does not make the walk visit node_modules).
    const maxDepth =
      glob.includes('**') || /[{}()[\]]/.test(glob) ? Infinity : glob.split('/').length;
    let matched = 0;
    const startAbs = start === '' ? base : join(base, start);
    let st;
    try {
      st = await lstat(startAbs);
    } catch {
      missing.push(glob);
      continue;
    }
    // The walk never follows a link; the starting directory itself must lie inside the tree.
    const real = await realpath(startAbs).catch(() => startAbs);
    if (real !== realRoot && !real.startsWith(realRoot + '/'))
      throw invalid(`output ${glob} lies outside the source tree (through a symbolic link)`, path);
    const visit = async (
      abs: string,
      rel: string,
      s: Awaited<ReturnType<typeof lstat>>,
    ): Promise<void> => {
      if (s.isDirectory()) {
        if ((rel === '' ? 0 : rel.split('/').length) >= maxDepth) return;
        for (const name of (await readdir(abs)).sort()) {
          const childAbs = join(abs, name);
          await visit(childAbs, rel === '' ? name : `${rel}/${name}`, await lstat(childAbs));
        }
        return;
      }
      if (!isMatch(rel)) return;
      matched++;
      if (s.isSymbolicLink())
        throw invalid(`output ${rel} is a symbolic link; outputs must be regular files`, path);
      if (!s.isFile()) throw invalid(`output ${rel} is not a regular file`, path);
      if (!found.has(rel)) {
        if (found.size >= MAX_OUTPUTS) throw invalid(`more than ${MAX_OUTPUTS} outputs`, path);
        found.set(rel, { abs, size: Number(s.size), mode: Number(s.mode) });
      }
    };
    if (start === glob && !st.isDirectory()) await visit(startAbs, glob, st);
    else if (st.isDirectory()) await visit(startAbs, start, st);
    else if (st.isSymbolicLink())
      throw invalid(`output ${glob} is a symbolic link; outputs must be regular files`, path);
    if (matched === 0) missing.push(glob);
  }
  if (missing.length > 0)
    throw new WorkerError(
      'OUTPUT_MISSING',
      `no file matches ${missing.length === 1 ? 'the output' : 'the outputs'} ${missing.map((g) => JSON.stringify(g)).join(', ')} (relative to ${workdir === '.' ? 'the source root' : workdir})`,
      { path: 'output.files' },
    );
  const out: OutputFile[] = [];
  for (const [rel, f] of [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    out.push({
      name: workdir === '.' ? rel : posix.join(workdir, rel),
      file: f.abs,
      sha256: await sha256File(f.abs),
      size: f.size,
      executable: (f.mode & 0o111) !== 0,
    });
  }
  return out;
}
