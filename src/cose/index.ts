/**
 * COSE_Sign1 and PEM: the primitives shared by the attestation verifier and the EIF signature
 * code. Pure: runs in any JavaScript runtime.
 */
export {
  COSE_ALGORITHMS,
  COSE_ALGORITHM_NAMES,
  COSE_ALG_ES384,
  COSE_HEADER_ALG,
  COSE_SIGN1_TAG,
  encodeCoseSign1,
  encodeProtectedHeader,
  protectedAlg,
  sigStructure,
  splitCoseSign1,
} from './sign1.js';
export type { CoseAlgorithm, CoseShapeError, CoseShapeFault, CoseSign1Parts } from './sign1.js';
export { derToPem, pemBlocks, pemToDer } from './pem.js';
