/**
 * One plain-words explanation per stable refusal code: what went wrong, and what a person who is
 * not a specialist can do about it. The codes are the verifier's (`VERIFY_ERROR_CODES`), the
 * attestation's (`ATTESTATION_ERROR_CODES`) and, for BUNDLE_MALFORMED, the archive's and the
 * bundle layout's reasons. test/web/explain.test.ts checks that every code has its entry.
 */

/** What the page says about one code. */
export interface Explanation {
  /** One short sentence: what is wrong. */
  what: string;
  /** What to do about it. */
  todo: string;
}

const ASK_PUBLISHER = 'Do not use these files; tell whoever published them.';
const REDOWNLOAD =
  'Download the bundle again from where the release is published and drop it here; if the result is the same, tell the publisher.';
const BROKEN_ATTESTATION: Explanation = {
  what: 'The hardware signature inside the bundle (the attestation) is damaged or not in the format AWS Nitro enclaves produce.',
  todo: REDOWNLOAD,
};
const BAD_CHAIN: Explanation = {
  what: 'The attestation is not signed by a certificate chain that leads to AWS (the Nitro root). Anyone could have made it.',
  todo: ASK_PUBLISHER,
};
const BROKEN_ARCHIVE: Explanation = {
  what: 'The file is not a bundle this page can read: it is damaged, cut short, or holds things a bundle never holds.',
  todo: REDOWNLOAD,
};

/** Explanations by code. */
export const EXPLANATIONS: Readonly<Record<string, Explanation>> = {
  // Verifier codes.
  BUNDLE_MALFORMED: BROKEN_ARCHIVE,
  PROVENANCE_INVALID: {
    what: 'The record of how the files were built (provenance.json) is not a valid tee-compile record.',
    todo: REDOWNLOAD,
  },
  SUBJECT_MISSING: {
    what: 'The build record lists a file that is not in the bundle.',
    todo: REDOWNLOAD,
  },
  SUBJECT_DIGEST_MISMATCH: {
    what: 'A file in the bundle is not the file that was built: its fingerprint (SHA-256) differs from the one the build recorded. It was changed after the build.',
    todo: ASK_PUBLISHER,
  },
  ARTIFACT_UNEXPECTED: {
    what: 'The bundle holds a file that the build did not produce. Someone added it afterwards.',
    todo: ASK_PUBLISHER,
  },
  IMAGE_UNTRUSTED: {
    what: 'The build ran in a build environment (enclave image) that is not one of the published, trusted images of this version.',
    todo: 'If the publisher uses its own image, get its policy file and drop it here too; otherwise do not trust these files.',
  },
  IMAGE_MISMATCH: {
    what: 'The build record names a different build environment from the one the hardware measured.',
    todo: ASK_PUBLISHER,
  },
  BUILDER_UNTRUSTED: {
    what: 'The build ran on a machine of an organisation that the policy does not trust.',
    todo: 'Check that you dropped the right policy file; if so, these files were not built by a builder you trust.',
  },
  SIMULATED_NOT_ALLOWED: {
    what: 'This bundle comes from a simulated build (a test run on an ordinary computer), not from AWS Nitro hardware. It proves nothing about how the files were built.',
    todo: 'Use the bundle of a real build. For testing only, switch on "Accept simulated builds".',
  },
  NONCE_DIFFERS: {
    what: 'The build record and the hardware signature belong to different build requests.',
    todo: ASK_PUBLISHER,
  },
  COMMIT_MISMATCH: {
    what: 'The files were built from another version of the source code (commit) than the one you asked for.',
    todo: 'Check the commit in the link or the policy. If it is right, these files are not the release you expect.',
  },
  REPOSITORY_MISMATCH: {
    what: 'The files were built from another repository than the one the policy expects.',
    todo: 'Check the repository in the policy. If it is right, these files are not the release you expect.',
  },
  BUNDLE_NONCANONICAL: {
    what: 'The bundle is not laid out exactly as tee-compile writes bundles. Unpacking tools could read something other than what was checked, so it is refused as a whole.',
    todo: REDOWNLOAD,
  },
  ENVELOPE_MALFORMED: {
    what: "The builder's signature file (provenance.dsse.json) is damaged or not in the form tee-compile writes.",
    todo: REDOWNLOAD,
  },
  ENVELOPE_PAYLOAD_MISMATCH: {
    what: "The builder's signature covers a different build record than the one in the bundle.",
    todo: ASK_PUBLISHER,
  },
  ENVELOPE_KEY_NOT_ATTESTED: {
    what: "The builder's signature was made with a key the hardware attestation does not vouch for.",
    todo: ASK_PUBLISHER,
  },
  ENVELOPE_SIGNATURE_INVALID: {
    what: "The builder's signature does not match the build record: one of them was changed.",
    todo: ASK_PUBLISHER,
  },
  BUILDER_KEY_MISMATCH: {
    what: 'The bundle was signed with another key than the builder key your policy names.',
    todo: 'Check the builder key in the policy. If it is right, these files were not built by that builder.',
  },
  BUILDER_SIGNATURE_MISSING: {
    what: 'Your policy asks for a builder signature, and the bundle has none.',
    todo: 'Ask the publisher for bundles built with a sealed builder key, or remove the key from the policy.',
  },
  SOURCE_UNSIGNED: {
    what: 'Your policy asks for a signed commit (or tag), and the source code that was built is not signed.',
    todo: 'Ask the publisher to sign their release commits or tags, or change the policy.',
  },
  SOURCE_SIGNATURE_INVALID: {
    what: 'The signature on the source code does not match it: the commit or tag was changed after it was signed.',
    todo: ASK_PUBLISHER,
  },
  SOURCE_SIGNER_UNTRUSTED: {
    what: 'The source code is signed, but not by anyone your policy trusts at that time.',
    todo: 'Check the signers in the policy. If they are right, do not use these files.',
  },
  SOURCE_TAG_MISMATCH: {
    what: 'The files were not built from the release tag you asked for.',
    todo: 'Check the tag in the link or the policy. If it is right, these files are not the release you expect.',
  },
  WORKFLOW_REQUIRED: {
    what: 'Your policy asks for proof of which GitHub workflow requested the build, and the bundle carries none.',
    todo: 'Ask the publisher to build with the id-token permission, or change the policy.',
  },
  WORKFLOW_MISMATCH: {
    what: 'The build was requested by another GitHub workflow than the ones your policy allows.',
    todo: 'Check the workflow patterns in the policy. If they are right, do not use these files.',
  },
  SOURCE_DIVERGENT: {
    what: 'The bundles were built from different versions of the source code, so they cannot confirm each other.',
    todo: 'Drop only the bundles of one release.',
  },
  QUORUM_NOT_MET: {
    what: 'Not enough independent builders produced the same files.',
    todo: 'Drop the bundles of the other builders of this release, or ask the publisher why they differ.',
  },
  OUTPUTS_CONFLICT: {
    what: 'Two equally large groups of builders produced different files, so no result wins.',
    todo: 'Look at the files that differ below and ask the publisher which build is right.',
  },
  NO_BUNDLES: {
    what: 'There was nothing to verify.',
    todo: 'Drop one or more bundles (.tar.gz).',
  },
  POLICY_INVALID: {
    what: 'The policy file (or a setting in the link) is not valid, so nothing was checked.',
    todo: 'Fix the field named in the message, or verify without a policy file.',
  },
  ATTESTATION_MISMATCH: {
    what: 'The hardware signature in this bundle belongs to another build: it was swapped in from elsewhere.',
    todo: ASK_PUBLISHER,
  },
  // Attestation codes.
  CBOR_MALFORMED: BROKEN_ATTESTATION,
  CBOR_TRAILING_BYTES: BROKEN_ATTESTATION,
  CBOR_DUPLICATE_KEY: BROKEN_ATTESTATION,
  CBOR_LIMIT_EXCEEDED: BROKEN_ATTESTATION,
  COSE_MALFORMED: BROKEN_ATTESTATION,
  COSE_BAD_TAG: BROKEN_ATTESTATION,
  COSE_UNSUPPORTED_ALG: BROKEN_ATTESTATION,
  DOC_FIELD_MISSING: BROKEN_ATTESTATION,
  DOC_FIELD_TYPE: BROKEN_ATTESTATION,
  DOC_FIELD_SIZE: BROKEN_ATTESTATION,
  DOC_FIELD_VALUE: BROKEN_ATTESTATION,
  CERT_MALFORMED: BROKEN_ATTESTATION,
  CHAIN_UNTRUSTED_ROOT: BAD_CHAIN,
  CHAIN_BROKEN: BAD_CHAIN,
  CHAIN_SIGNATURE_INVALID: BAD_CHAIN,
  CERT_EXPIRED: {
    what: 'A certificate of the attestation had expired at the time the attestation claims.',
    todo: ASK_PUBLISHER,
  },
  CERT_NOT_YET_VALID: {
    what: 'A certificate of the attestation was not yet valid at the time the attestation claims.',
    todo: ASK_PUBLISHER,
  },
  CERT_NOT_CA: BAD_CHAIN,
  CERT_LEAF_IS_CA: BAD_CHAIN,
  CERT_PATH_LENGTH: BAD_CHAIN,
  CERT_KEY_USAGE: BAD_CHAIN,
  CERT_UNSUPPORTED_KEY: BAD_CHAIN,
  CERT_UNSUPPORTED_ALGORITHM: BAD_CHAIN,
  CERT_UNKNOWN_CRITICAL_EXTENSION: BAD_CHAIN,
  SIGNATURE_INVALID: {
    what: 'The hardware signature does not match the attestation: it was altered after it was signed.',
    todo: ASK_PUBLISHER,
  },
  PCR_MISMATCH: {
    what: 'A measurement (PCR) of the build machine is not the one the policy expects.',
    todo: 'Check the policy file; if it is right, these files were not built where you expect.',
  },
  NONCE_MISMATCH: {
    what: 'The build request number (nonce) is not the one in the link or policy: this is the bundle of another build run.',
    todo: 'Check the nonce in the link, or verify without it.',
  },
  USER_DATA_MISMATCH: {
    what: 'The build record (provenance.json) was changed after the hardware signed it.',
    todo: ASK_PUBLISHER,
  },
  PUBLIC_KEY_MISMATCH: {
    what: 'The key in the attestation is not the expected one.',
    todo: ASK_PUBLISHER,
  },
  DOCUMENT_TOO_OLD: {
    what: 'The attestation is older than the policy allows.',
    todo: 'Get a recent build, or a policy with a longer maximum age.',
  },
  DOCUMENT_FROM_FUTURE: {
    what: 'The attestation claims a time in the future of this computer’s clock.',
    todo: 'Check this computer’s date and time, then try again.',
  },
  DEBUG_MODE: {
    what: 'The build ran in a debug-mode enclave, in which nothing about the build environment is measured.',
    todo: 'Do not trust these files; ask the publisher for a build in a normal enclave.',
  },
  // BUNDLE_MALFORMED reasons (archive and bundle layout).
  ARCHIVE_MALFORMED: BROKEN_ARCHIVE,
  ARCHIVE_UNSAFE_PATH: BROKEN_ARCHIVE,
  ARCHIVE_LINK: BROKEN_ARCHIVE,
  ARCHIVE_SPECIAL_FILE: BROKEN_ARCHIVE,
  ARCHIVE_DUPLICATE_ENTRY: BROKEN_ARCHIVE,
  ARCHIVE_TOO_LARGE: {
    what: 'The bundle, or a file in it, is larger than a bundle may be.',
    todo: REDOWNLOAD,
  },
  ARCHIVE_TOO_MANY_ENTRIES: BROKEN_ARCHIVE,
  ARCHIVE_PATH_TOO_LONG: BROKEN_ARCHIVE,
  BUNDLE_MEMBER_MISSING: {
    what: 'The bundle lacks one of its three required files (provenance.json, attestation.cbor, build.log). It may not be a bundle at all.',
    todo: 'Drop the bundle file (…bundle.tar.gz), not the release’s other files.',
  },
  BUNDLE_MEMBER_DUPLICATE: BROKEN_ARCHIVE,
  BUNDLE_MEMBER_UNEXPECTED: BROKEN_ARCHIVE,
  BUNDLE_MEMBER_TOO_LARGE: BROKEN_ARCHIVE,
};

const FALLBACK: Explanation = {
  what: 'The bundle was refused.',
  todo: ASK_PUBLISHER,
};

/** The explanation of a refusal: its reason's when more precise (BUNDLE_MALFORMED), else its code's. */
export function explain(code: string, reason?: string): Explanation {
  if (reason !== undefined && EXPLANATIONS[reason] !== undefined && code === 'BUNDLE_MALFORMED')
    return EXPLANATIONS[reason];
  return EXPLANATIONS[code] ?? FALLBACK;
}
