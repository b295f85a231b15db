import { describe, expect, it } from '@jest/globals';
import { verifyBundle } from '../../src/verify/index.js';
import { MAX_PROVENANCE_DEPTH, jsonDepthExceeds } from '../../src/verify/provenance-bound.js';
import { VERIFIED_AT, makeBundle } from '../support/bundles/bundle-factory.js';
import { simulatedPolicy } from '../support/bundles/verify-policy.js';

const te = new TextEncoder();

describe('provenance.json is depth-bounded before it is parsed', () => {
  it('when an attested provenance.json nests a million levels, it is refused with PROVENANCE_INVALID', async () => {
    const deep = te.encode(`${'['.repeat(1 << 20)}${']'.repeat(1 << 20)}`);
    const b = await makeBundle({ provenance: () => deep });
    const r = await verifyBundle(b.bytes, await simulatedPolicy(), { now: VERIFIED_AT });
    expect(r).toBeRefusedWith('PROVENANCE_INVALID');
  });

  it('when brackets are inside strings, they do not count', () => {
    expect(jsonDepthExceeds(te.encode(`{"a":"${'['.repeat(500)}"}`), MAX_PROVENANCE_DEPTH)).toBe(
      false,
    );
    expect(
      jsonDepthExceeds(te.encode('['.repeat(MAX_PROVENANCE_DEPTH + 1)), MAX_PROVENANCE_DEPTH),
    ).toBe(true);
  });
});
