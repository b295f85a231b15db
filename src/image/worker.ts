/**
 * The tee-compile worker as one file for the image, bundled with esbuild (pinned in
 * package-lock.json) from the repository's source. Deterministic: paths in the bundle are relative
 * to the repository root, no legal comments, no source maps, the same banner as the local backend.
 */
import { join } from 'node:path';
import type * as Esbuild from 'esbuild';
import { WORKER_BANNER } from '../enclave/index.js';
import { ImageError } from './errors.js';

/** Bundles `worker.entry` (repository-relative) for `worker.target` (e.g. node20). */
export async function bundleWorker(
  root: string,
  worker: { entry: string; target: string },
): Promise<Uint8Array> {
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new ImageError('TOOL_MISSING', 'esbuild is needed to bundle the worker (npm ci)', {
      cause: e,
    });
  }
  try {
    const r = await esbuild.build({
      absWorkingDir: root,
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
  } catch (e) {
    throw new ImageError(
      'TOOL_FAILED',
      `esbuild cannot bundle ${worker.entry}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}
