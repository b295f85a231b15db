import { errorGuard, TeeCompileError } from '../errors.js';
import type { AttestationErrorCode } from '../attestation/index.js';
import type { OidcErrorCode } from '../oidc/index.js';

/** Refusal codes of bundle verification, in addition to the attestation codes. Add, never rename. */
export const VERIFY_ERROR_CODES = [
  'BUNDLE_MALFORMED', // not a readable bundle (archive refused, a required member missing)
  'BUNDLE_NONCANONICAL', // the bundle is not exactly what the bundle writer emits (tar or gzip form, member types, order, names)
  'PROVENANCE_INVALID', // provenance.json is not a valid statement of our build type
  'SUBJECT_MISSING', // a provenance subject has no artifact in the bundle
  'SUBJECT_DIGEST_MISMATCH', // an artifact's bytes differ from its subject digest
  'ARTIFACT_UNEXPECTED', // an artifact in the bundle is not a subject
  'IMAGE_UNTRUSTED', // the attested PCR0/1/2 are not a trusted image
  'IMAGE_MISMATCH', // the provenance names an image whose PCRs differ from the attested ones
  'BUILDER_UNTRUSTED', // the attested PCR3 is not a trusted builder
  'SIMULATED_NOT_ALLOWED', // the attestation chains to the simulation root and simulation is not allowed
  'NONCE_DIFFERS', // the provenance's nonce differs from the attestation's
  'COMMIT_MISMATCH', // the source commit is not the expected one
  'REPOSITORY_MISMATCH', // the source repository is not the expected one
  'SOURCE_DIVERGENT', // several bundles of different source commits
  'QUORUM_NOT_MET', // fewer than minBuilders distinct trusted builders agree
  'OUTPUTS_CONFLICT', // two groups of builders with equal support disagree
  'NO_BUNDLES', // nothing to verify
  'POLICY_INVALID', // the policy file or a policy flag is not valid (never a verdict on a bundle)
  'ATTESTATION_MISMATCH', // the attestation belongs to another build (its nonce or NSM facts are not those provenance.json records)
  'ENVELOPE_MALFORMED', // provenance.dsse.json is not a DSSE envelope in tee-compile's form, or not of an in-toto statement
  'ENVELOPE_PAYLOAD_MISMATCH', // the envelope's payload is not byte for byte provenance.json
  'ENVELOPE_KEY_NOT_ATTESTED', // the envelope names a key other than the attestation's public_key, or the attestation has none
  'ENVELOPE_SIGNATURE_INVALID', // the envelope's signature over the PAE does not verify with the attested key
  'BUILDER_KEY_MISMATCH', // the attested signing key differs from the one the policy or --builder-key names
  'BUILDER_SIGNATURE_MISSING', // the policy or --builder-key names a builder key, but the bundle has no envelope
  'SOURCE_UNSIGNED', // the policy requires a signed commit (or tag) and it is not signed
  'SOURCE_SIGNATURE_INVALID', // a required signature does not verify over the bytes git signs
  'SOURCE_SIGNER_UNTRUSTED', // a required signature verifies but its key is not a trusted signer at the object's time
  'SOURCE_TAG_MISMATCH', // the bundle is not a build of the tag asked for (--tag)
  'WORKFLOW_REQUIRED', // the policy requires a workflow token and the bundle has none
  'WORKFLOW_MISMATCH', // the verified workflow_ref matches none of the policy's patterns
] as const;

export type VerifyErrorCode =
  (typeof VERIFY_ERROR_CODES)[number] | AttestationErrorCode | OidcErrorCode;

/** A refusal raised inside verification, or an invalid policy; `code` is from VERIFY_ERROR_CODES. */
export class VerifyError extends TeeCompileError<VerifyErrorCode> {}

/** True for errors raised by the verify module. */
export const isVerifyError = errorGuard(VerifyError);
