/**
 * tee-compile as a library, for any JavaScript runtime (Node, browsers, workers): verification of
 * attested bundles and of AWS Nitro attestation documents, with the trust policy as a parameter.
 * Node-only helpers (reading files, the published image list, building) are in `tee-compile/node`.
 */
export * from './verify/index.js';
export {
  AWS_NITRO_ROOT_G1,
  SIMULATION_ROOT,
  createChainCache,
  decodeAttestation,
  isAttestationError,
  isDebugDocument,
  pcr3ForIamRole,
  pcr4ForInstanceId,
  trustAnchorFromPem,
  verifyAttestation,
} from './attestation/index.js';
export type {
  AttestationDocument,
  AttestationErrorCode,
  TrustAnchor,
  VerifyAttestationOptions,
  VerifyAttestationResult,
} from './attestation/index.js';
export { readBundle } from './bundle/index.js';
export type { BundleContents } from './bundle/index.js';
export {
  merkleProof,
  merkleRoot,
  parseStatement,
  statementInputMerkleRoot,
  verifyMerkleProof,
} from './provenance/index.js';
export type { ProvenanceStatement } from './provenance/index.js';
