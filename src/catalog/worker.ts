/**
 * The tee-compile worker as one file for an enclave image, bundled with esbuild (a development
 * dependency, pinned in package-lock.json: present in a checkout, where images are built and the
 * catalog is checked) from the repository's source. Deterministic: paths in the bundle are
 * relative to the repository root, no legal comments, no source maps. Its SHA-256 is one of an
 * image's recipe digests (`worker:<entry>`), so a change anywhere in the worker's source shows in
 * enclave/images.json as it does in the image.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type * as Esbuild from 'esbuild';

/** Banner of every worker bundle: CommonJS dependencies may `require` Node's modules. */
export const WORKER_BANNER =
  "import { createRequire as teeCreateRequire } from 'node:module'; const require = teeCreateRequire(import.meta.url);";

/** What a recipe says about its worker. */
export interface WorkerSpec {
  /** Repository-relative entry, e.g. src/worker/main.ts. */
  entry: string;
  /** esbuild target, e.g. node22. */
  target: string;
}

/** Key of the worker bundle in a recipe digest map. */
export const workerRecipeKey = (w: WorkerSpec): string => `worker:${w.entry}`;

/** esbuild is not installed (an installed package rather than a checkout). */
export class EsbuildMissingError extends Error {}

/**
 * The bundle's bytes. Throws {@link EsbuildMissingError}, or esbuild's own error (esbuild missing, or the source does not bundle) for
 * the caller to wrap in its own error.
 */
export async function bundleWorkerSource(root: string, worker: WorkerSpec): Promise<Uint8Array> {
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new EsbuildMissingError('esbuild is needed to bundle the worker (npm ci in a checkout)', {
      cause: e,
    });
  }
  const r = await esbuild.build({
    absWorkingDir: root,
    // Paths in the bundle stay those below `root` even where src/ or node_modules/ are links.
    preserveSymlinks: true,
    // The compiler options that change esbuild's output (tsconfig.base.json's), given here so
    // that no tsconfig.json near the sources can change the bundle.
    tsconfigRaw: {
      compilerOptions: {
        target: 'ES2022',
        strict: true,
        verbatimModuleSyntax: true,
        experimentalDecorators: false,
      },
    },
    entryPoints: [join(root, worker.entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: worker.target,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    banner: { js: WORKER_BANNER },
    outfile: 'worker.mjs',
  });
  return r.outputFiles[0]!.contents;
}

/** Names, sizes and times of the files below `dir` (what a bundle of them depends on). */
async function treeStamp(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const st = await stat(p);
        h.update(`${p}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  await walk(dir);
  return h.digest('hex');
}

/** Digests already computed in this process, by entry, target and the stamp of the sources. */
const digests = new Map<string, Promise<string>>();

/**
 * SHA-256 of the worker bundle. Computed once per process for unchanged sources (the names, sizes
 * and times of src/ and of node_modules/.package-lock.json), since the catalog checks bundle the
 * same worker for every image.
 */
export async function workerBundleDigest(root: string, worker: WorkerSpec): Promise<string> {
  const lock = await stat(join(root, 'node_modules', '.package-lock.json')).catch(() => undefined);
  const key = [
    root,
    worker.entry,
    worker.target,
    lock === undefined ? '-' : `${lock.size}:${lock.mtimeMs}`,
    await treeStamp(join(root, 'src')),
  ].join('\0');
  let d = digests.get(key);
  if (d === undefined) {
    d = bundleWorkerSource(root, worker).then((b) => createHash('sha256').update(b).digest('hex'));
    digests.set(key, d);
    d.catch(() => digests.delete(key));
  }
  return d;
}
