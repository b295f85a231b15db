/**
 * tee-jail (enclave/jail/) built with its own Makefile once per test process, into a folder other
 * users can reach (the jailed build user must be able to run what the tests give it).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const JAIL_DIR = fileURLToPath(new URL('../../enclave/jail/', import.meta.url));

/** Whether this process can jail (making namespaces and changing user need root). */
export const CAN_JAIL = process.getuid?.() === 0;

let built: Promise<string> | undefined;

/** Path of a freshly built tee-jail. */
export function buildJail(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tc-jail-bin-'));
    await chmod(dir, 0o755);
    await promisify(execFile)('make', ['-s', '-C', JAIL_DIR, `OUT=${dir}`, 'CC=gcc']);
    return join(dir, 'tee-jail');
  })();
  return built;
}
