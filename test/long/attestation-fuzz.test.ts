import { describe, expect, it } from '@jest/globals';
import { fuzzRun } from '../support/attestation/attestation-fuzz.js';

/** Full-size run: `npm run test:long -- attestation` (replay a failure with ATTESTATION_FUZZ_SEED). */
const CASES = Number(process.env.ATTESTATION_FUZZ_CASES ?? 100_000);

describe('attestation mutation fuzzing (full run)', () => {
  it(`when ${CASES} mutations of genuine documents are verified, none crashes and none is accepted unless its signed bytes are intact`, async () => {
    const { seed, stats } = await fuzzRun(CASES);
    process.stdout.write(`attestation fuzz seed ${seed}: ${JSON.stringify(stats)}\n`);
    expect(Object.values(stats).reduce((a, b) => a + b, 0)).toBe(CASES);
    for (const code of [
      'CBOR_MALFORMED',
      'COSE_MALFORMED',
      'DOC_FIELD_TYPE',
      'CHAIN_BROKEN',
      'SIGNATURE_INVALID',
    ])
      expect(stats[code] ?? 0).toBeGreaterThan(0);
  });
});
