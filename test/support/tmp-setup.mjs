/**
 * Jest globalSetup: every temporary folder of the run goes into one folder of its own. TMPDIR
 * (which os.tmpdir() and the programs the tests start read) points there for the test workers,
 * so that the run's folders are found (and removed) at its end, and two runs on one machine do not
 * see each other's. See tmp-teardown.mjs. It is made like /tmp (1777): jailed build commands run
 * as another user and must reach, and write, the temporary folders the tests give them.
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tee-compile-jest-'));
  chmodSync(dir, 0o1777);
  process.env.TEE_COMPILE_TEST_TMP = dir;
  process.env.TMPDIR = dir;
}
