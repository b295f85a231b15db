import { describe, expect, it } from '@jest/globals';
import { fuzzRun } from '../support/attestation/attestation-fuzz.js';

/** A few thousand cases in `npm test`; the full run is test/long/attestation-fuzz.test.ts. */
const CASES = 3000;

describe('attestation mutation fuzzing (short run)', () => {
  it(`when ${CASES} mutations of genuine documents are verified, none crashes and none is accepted unless its signed bytes are intact`, async () => {
    const { stats } = await fuzzRun(CASES);
    // The mutations reach decoding, the chain and the signature (not only the first byte).
    expect(Object.values(stats).reduce((a, b) => a + b, 0)).toBe(CASES);
    expect(stats.SIGNATURE_INVALID ?? 0).toBeGreaterThan(0);
    expect(stats.CBOR_MALFORMED ?? 0).toBeGreaterThan(0);
    expect(stats.ok ?? 0).toBeGreaterThan(0);
  });
});
