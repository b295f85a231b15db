import type { CliIo } from '../io.js';
import { EXIT_USAGE, writeLine } from '../io.js';

/** `tee-compile attestation` (not yet available in this version). */
export function run(_args: string[], io: CliIo): Promise<number> {
  writeLine(io.stderr, 'tee-compile attestation: not available yet');
  return Promise.resolve(EXIT_USAGE);
}
