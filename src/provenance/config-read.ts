/** Reading build.json from disk. Node only. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseBuildConfigText } from './build-config.js';
import { provenanceError } from './errors.js';
import type { BuildConfig } from './types.js';

/** build.json larger than this is refused. */
export const MAX_BUILD_CONFIG_BYTES = 1024 * 1024;

/** Reads and validates a build.json file (CONFIG_MISSING when absent, CONFIG_INVALID when wrong). */
export async function readBuildConfig(file: string): Promise<BuildConfig> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw provenanceError(
        'CONFIG_MISSING',
        `${file} does not exist; create a build.json (see docs/provenance.md)`,
        basename(file),
        err,
      );
    }
    throw err;
  }
  if (text.length > MAX_BUILD_CONFIG_BYTES) {
    throw provenanceError(
      'CONFIG_INVALID',
      `${basename(file)}: larger than ${MAX_BUILD_CONFIG_BYTES} bytes`,
    );
  }
  return parseBuildConfigText(text.toString('utf8'), basename(file));
}
