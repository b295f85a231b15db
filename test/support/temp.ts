/**
 * Temporary folders that a test file removes when its tests are done: `tempDir(prefix)` (or
 * `tempDirSync`) makes one under the system's temporary folder and registers it; an `afterAll`
 * of the importing test file removes them all. The run fails when folders are left behind
 * (tmp-teardown.mjs).
 */
import { afterAll } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
});

/** A fresh folder `<tmp>/<prefix>XXXXXX`, removed after the test file. */
export function tempDirSync(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** A fresh folder `<tmp>/<prefix>XXXXXX`, removed after the test file. */
export async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/**
 * For test files whose processes are killed on purpose (SIGKILL, a third signal): the processes
 * they start from now on get a temporary folder of this file's own (TMPDIR), removed after the
 * file with what a killed process could not remove. TMPDIR is restored after the file.
 */
export function tmpdirForKilledProcesses(): void {
  const before = process.env.TMPDIR;
  const d = tempDirSync('killed-processes-');
  process.env.TMPDIR = d;
  afterAll(() => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  });
}
