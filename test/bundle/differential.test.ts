/**
 * The differential harness over genuine and hostile bundles: every bundle the verifier accepts
 * must unpack, with every real extractor, to exactly what was verified.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readBundle } from '../../src/bundle/index.js';
import type { TrustPolicy } from '../../src/verify/index.js';
import { verifyBundle } from '../../src/verify/index.js';
import { VERIFIED_AT, makeBundle, type MadeBundle } from '../support/bundle-factory.js';
import { extractionDifferences } from '../support/bundle-extract.js';
import { gz, paxGlobalOverwrite, tarOf } from '../support/bundle-hostile.js';
import { simulatedPolicy } from '../support/verify-policy.js';

let genuine: MadeBundle;
let policy: TrustPolicy;

beforeAll(async () => {
  genuine = await makeBundle();
  policy = await simulatedPolicy();
});

/** Verifies each bundle; the accepted ones go through the four extractors. */
async function differences(bundles: Uint8Array[]): Promise<string[]> {
  const accepted = [];
  for (const bytes of bundles) {
    const r = await verifyBundle(bytes, policy, { now: VERIFIED_AT });
    if (!r.ok) continue;
    const c = await readBundle(bytes);
    accepted.push({ bytes, expected: { verified: r, attestation: c.attestation, log: c.log } });
  }
  const found = await extractionDifferences(accepted);
  return found.flatMap((d, i) => d.map((x) => `bundle ${i}: ${x.extractor}: ${x.problem}`));
}

describe('the differential harness', () => {
  it('when a genuine bundle is verified, every extractor writes exactly what was verified', async () => {
    expect((await verifyBundle(genuine.bytes, policy, { now: VERIFIED_AT })).ok).toBe(true);
    expect(await differences([genuine.bytes])).toEqual([]);
  });

  it('when a pax global header renames a later member onto an attested artifact, no accepted bundle extracts differently', async () => {
    const hostile = gz(paxGlobalOverwrite(tarOf(genuine.bytes), 'target/release/hello'));
    expect(await differences([hostile])).toEqual([]);
  });
});
