/**
 * The differential harness (issue 12): every bundle the verifier accepts must unpack, with GNU
 * tar, bsdtar, Python's tarfile (filter='data') and node-tar, to exactly what was verified.
 * Inputs: genuine bundles of several shapes, the catalogue of hostile forms, and 300 cases of the
 * seeded mutation fuzzer (20 000 in test/long).
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundle } from '../../src/bundle/node.js';
import type { TrustPolicy } from '../../src/verify/index.js';
import { makeBundle, type MadeBundle } from '../support/bundles/bundle-factory.js';
import { fuzzCase } from '../support/bundles/bundle-fuzz.js';
import { runHarness } from '../support/bundles/bundle-harness.js';
import { hostileVariants, unruledWriter } from '../support/bundles/bundle-hostile.js';
import { simulatedPolicy } from '../support/bundles/verify-policy.js';
import { tempDirSync } from '../support/temp.js';

/** Fuzz cases in npm test; test/long runs 20 000. */
export const FUZZ_CASES = 300;

let policy: TrustPolicy;
let genuine: MadeBundle[];
/** The genuine bundles as the Node writer (the one builds use) writes them. */
let written: Uint8Array[];

beforeAll(async () => {
  policy = await simulatedPolicy();
  const long = `dir/${'n'.repeat(120)}/file.bin`;
  genuine = [
    await makeBundle(),
    await makeBundle({
      outputs: {
        [long]: new Uint8Array(3000).fill(7),
        'Ünïcödé/名前.txt': 'unicode\n',
        empty: new Uint8Array(0),
        'a/b/c/d/e/f': 'deep',
      },
    }),
  ];
  const dir = tempDirSync('bundle-diff-');
  written = [];
  for (const [i, g] of genuine.entries()) {
    const f = join(dir, `${i}.tar.gz`);
    await writeBundle(f, {
      provenance: g.contents.provenance,
      attestation: g.contents.attestation,
      log: g.contents.log,
      artifacts: [...g.contents.artifacts].map(([name, bytes]) => ({ name, bytes })),
    });
    written.push(new Uint8Array(readFileSync(f)));
  }
});

describe('the differential harness', () => {
  it('when genuine bundles (pure and Node writers, long and non-ASCII names) are verified, every extractor writes exactly what was verified', async () => {
    const cases = [...genuine.map((g) => g.bytes), ...written].map((bytes, i) => ({
      label: `genuine ${i}`,
      bytes,
    }));
    const run = await runHarness(cases, policy);
    expect(run.untyped).toEqual([]);
    expect(run.accepted).toBe(cases.length);
    expect(run.differences).toEqual([]);
  });

  it('when each hostile form is tried on a genuine bundle, it is refused with its code and no accepted bundle extracts differently', async () => {
    const variants = hostileVariants(genuine[0]!.bytes);
    const got: string[] = [];
    for (const v of variants) {
      const run = await runHarness([{ label: v.name, bytes: v.bytes }], policy);
      expect(run.untyped).toEqual([]);
      expect(run.differences).toEqual([]);
      got.push(`${v.name}: ${[...run.codes.keys()].join(',') || 'ACCEPTED'}`);
    }
    expect(got).toEqual(variants.map((v) => `${v.name}: ${v.code}`));
  });

  it.each([
    ['names that differ only in case', { 'bin/A.txt': 'a', 'bin/a.txt': 'b' }],
    ['NFC and NFD forms of one name', { 'caf\u00e9.txt': 'nfc', 'cafe\u0301.txt': 'nfd' }],
    ['a directory that differs only in case from another', { 'Lib/x': 'x', 'lib/y': 'y' }],
    ['a file where another name needs a directory', { bin: 'f', 'bin/x': 'x' }],
  ])(
    'when attested artifacts have %s (a writer without the name rules), it is refused with BUNDLE_NONCANONICAL',
    async (_what, outputs) => {
      const b = await makeBundle({ outputs, writer: unruledWriter });
      const run = await runHarness([{ label: 'collision', bytes: b.bytes }], policy);
      expect([...run.codes.keys()]).toEqual(['BUNDLE_NONCANONICAL']);
      expect(run.differences).toEqual([]);
    },
  );

  it(`when ${FUZZ_CASES} seeded mutations of genuine bundles are verified, none throws or gives an unknown code, and none accepted extracts differently`, async () => {
    const bases = [...genuine.map((g) => g.bytes), ...written];
    const cases = Array.from({ length: FUZZ_CASES }, (_, n) => ({
      label: `fuzz seed 12 case ${n}`,
      bytes: fuzzCase(12, n, bases),
    }));
    const run = await runHarness(cases, policy);
    expect(run.untyped).toEqual([]);
    expect(run.differences).toEqual([]);
    expect(run.cases).toBe(FUZZ_CASES);
  });
});
