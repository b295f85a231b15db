/**
 * The tee-compile worker bundled for the image (src/catalog/worker.ts: the same bytes whose
 * SHA-256 the catalog records as the recipe digest `worker:<entry>`).
 */
import { EsbuildMissingError, bundleWorkerSource } from '../catalog/node.js';
import { ImageError } from './errors.js';

/** Bundles `worker.entry` (repository-relative) for `worker.target` (e.g. node20). */
export async function bundleWorker(
  root: string,
  worker: { entry: string; target: string },
): Promise<Uint8Array> {
  try {
    return await bundleWorkerSource(root, worker);
  } catch (e) {
    const missing = e instanceof EsbuildMissingError;
    throw new ImageError(
      missing ? 'TOOL_MISSING' : 'TOOL_FAILED',
      missing ? e.message : `esbuild cannot bundle ${worker.entry}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}
