import type { CliIo } from '../io.js';
import { EXIT_USAGE, writeLine } from '../io.js';

/** `tee-compile build` (not yet available in this version). */
export function run(_args: string[], io: CliIo): Promise<number> {
  writeLine(io.stderr, 'tee-compile build: not available yet');
  return Promise.resolve(EXIT_USAGE);
}
