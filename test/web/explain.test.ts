/**
 * Every refusal code the verifier, the attestation check and the bundle reader can give has its
 * plain-words explanation on the verify page.
 */
import { ARCHIVE_ERROR_CODES } from '../../src/archive/index.js';
import { ATTESTATION_ERROR_CODES } from '../../src/attestation/index.js';
import { BUNDLE_ERROR_CODES } from '../../src/bundle/index.js';
import { VERIFY_ERROR_CODES } from '../../src/verify/index.js';
import { EXPLANATIONS, explain } from '../../web/src/explain.js';

/** Codes that never reach a verifier (the NSM's own codes, the bundle writer's). */
const NOT_REFUSALS = new Set(['NSM_MESSAGE_MALFORMED', 'NSM_ERROR', 'BUNDLE_ARTIFACT_INVALID']);

describe('the explanations of the verify page', () => {
  const codes = [
    ...VERIFY_ERROR_CODES,
    ...ATTESTATION_ERROR_CODES,
    ...BUNDLE_ERROR_CODES,
    ...ARCHIVE_ERROR_CODES,
  ].filter((c) => !NOT_REFUSALS.has(c));

  it.each(codes)('when a bundle is refused with %s, it is explained', (code) => {
    const e = EXPLANATIONS[code];
    expect(e).toBeDefined();
    expect(e!.what.length).toBeGreaterThan(20);
    expect(e!.todo.length).toBeGreaterThan(10);
  });

  it('when BUNDLE_MALFORMED has a reason, the reason explains it', () => {
    expect(explain('BUNDLE_MALFORMED', 'BUNDLE_MEMBER_MISSING')).toBe(
      EXPLANATIONS.BUNDLE_MEMBER_MISSING,
    );
    expect(explain('SUBJECT_MISSING', 'BUNDLE_MEMBER_MISSING')).toBe(EXPLANATIONS.SUBJECT_MISSING);
  });
});
