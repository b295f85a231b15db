/**
 * Jest globalTeardown: the run fails when its tests left temporary folders of theirs behind (a
 * folder made with mkdtemp: `<prefix>-XXXXXX`), naming them by prefix; the run's folder is removed
 * either way. Tests clean up with `tempDir`/`tempDirSync` (./temp.ts) or their own afterAll.
 */
import { readdirSync, rmSync } from 'node:fs';

/** The form of a folder made by mkdtemp with one of our prefixes. */
const OURS = /^[a-z0-9][a-z0-9-]*-[A-Za-z0-9]{6}$/;

export default function teardown() {
  const dir = process.env.TEE_COMPILE_TEST_TMP;
  if (dir === undefined) return;
  const left = readdirSync(dir).filter((n) => OURS.test(n));
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  if (left.length === 0) return;
  const byPrefix = new Map();
  for (const n of left) {
    const p = n.slice(0, -7);
    byPrefix.set(p, (byPrefix.get(p) ?? 0) + 1);
  }
  const list = [...byPrefix].map(([p, n]) => `${p}-* (${n})`).join(', ');
  throw new Error(
    `the tests left ${left.length} temporary folders behind: ${list}; remove them in afterAll (test/support/temp.ts)`,
  );
}
