/** Reading build.json from disk. Node only. */
import { basename } from 'node:path';
import { parseBuildConfigText } from './build-config.js';
import { provenanceError } from '../errors.js';
import { readBoundedFile } from '../../util/node.js';
import type { BuildConfig } from '../types.js';

/** build.json larger than this is refused. */
export const MAX_BUILD_CONFIG_BYTES = 1024 * 1024;

/** Reads and validates a build.json file (CONFIG_MISSING when absent, CONFIG_INVALID when wrong). */
export async function readBuildConfig(file: string): Promise<BuildConfig> {
  let text: Buffer;
  try {
    text = await readBoundedFile(file, MAX_BUILD_CONFIG_BYTES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw provenanceError(
        'CONFIG_MISSING',
        `${file} does not exist; create a build.json (see docs/provenance.md)`,
        basename(file),
        err,
      );
    }
    // readBoundedFile's own refusals: too large, or not a regular file.
    if ((err as NodeJS.ErrnoException).code === undefined)
      throw provenanceError('CONFIG_INVALID', `${basename(file)}: ${(err as Error).message}`);
    throw err;
  }
  return parseBuildConfigText(text.toString('utf8'), basename(file));
}
