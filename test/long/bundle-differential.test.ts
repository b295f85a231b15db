/**
 * The differential harness at full size: 20 000 cases of the seeded mutation fuzzer over genuine
 * bundles (several shapes, both writers), every accepted one unpacked by GNU tar, bsdtar, Python's
 * tarfile and node-tar. BUNDLE_FUZZ_CASES and BUNDLE_FUZZ_SEED override the count and the seed.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { TrustPolicy } from '../../src/verify/index.js';
import { makeBundle, rebundle } from '../support/bundles/bundle-factory.js';
import { fuzzCase } from '../support/bundles/bundle-fuzz.js';
import { runHarness } from '../support/bundles/bundle-harness.js';
import { hostileVariants } from '../support/bundles/bundle-hostile.js';
import { simulatedPolicy } from '../support/bundles/verify-policy.js';

const CASES = Number(process.env.BUNDLE_FUZZ_CASES ?? 20_000);
const SEED = Number(process.env.BUNDLE_FUZZ_SEED ?? 2026);

let policy: TrustPolicy;
let bases: Uint8Array[];

beforeAll(async () => {
  policy = await simulatedPolicy();
  const a = await makeBundle();
  const b = await makeBundle({
    outputs: {
      [`dir/${'n'.repeat(120)}/file.bin`]: new Uint8Array(3000).fill(7),
      'Ünïcödé/名前.txt': 'unicode\n',
      empty: new Uint8Array(0),
    },
  });
  bases = [a.bytes, b.bytes, await rebundle(a.contents)];
});

describe('the differential harness, long run', () => {
  it(`when ${CASES} seeded mutations (seed ${SEED}) and the hostile catalogue are verified, none throws, and no accepted bundle extracts differently`, async () => {
    function* cases(): Generator<{ label: string; bytes: Uint8Array }> {
      for (const v of hostileVariants(bases[0]!)) yield { label: v.name, bytes: v.bytes };
      for (let n = 0; n < CASES; n++)
        yield { label: `fuzz seed ${SEED} case ${n}`, bytes: fuzzCase(SEED, n, bases) };
    }
    const run = await runHarness(cases(), policy);
    process.stdout.write(
      `bundle harness: ${run.cases} cases, ${run.accepted} accepted and extracted, refusals ${JSON.stringify(Object.fromEntries(run.codes))}\n`,
    );
    expect(run.untyped).toEqual([]);
    expect(run.differences).toEqual([]);
  });
});
