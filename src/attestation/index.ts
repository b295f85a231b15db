/**
 * AWS Nitro attestation: strict decoding and verification of attestation documents (the root of
 * trust of every tee-compile bundle), PCR helpers, the NSM request/response codec and client, and
 * a software NSM. Browser-capable: nothing reachable from here imports a `node:` module.
 */
export * from './types.js';
export {
  ATTESTATION_ERROR_CODES,
  AttestationError,
  NsmError,
  isAttestationError,
  type AttestationErrorCode,
  type NsmErrorCode,
} from './errors.js';
export { decodeAttestation } from './document.js';
export { verifyAttestation } from './verify.js';
export { createChainCache } from './cache.js';
export { webCryptoVerifier, type SignatureVerifier } from './crypto.js';
export { AWS_NITRO_ROOT_G1, SIMULATION_ROOT, trustAnchorFromPem } from './roots.js';
export {
  IAM_ROLE_ARN_RE,
  isDebugDocument,
  pcrExtend,
  pcr3ForIamRole,
  pcr4ForInstanceId,
} from './pcr.js';
export { derToPem, pemToDer } from '../cose/index.js';
export {
  decodeNsmRequest,
  decodeNsmResponse,
  encodeNsmRequest,
  encodeNsmResponse,
  MAX_NSM_REQUEST_BYTES,
  MAX_NSM_RESPONSE_BYTES,
} from './nsm-codec.js';
export { NsmClient, type AttestOptions, type NsmDescription } from './nsm-client.js';
export {
  SoftwareNsm,
  simulationIssuer,
  type SimulationIssuer,
  type SoftwareNsmOptions,
} from './software-nsm.js';
export { MAX_DOCUMENT_BYTES, MAX_PAYLOAD_BYTES } from './cose.js';
export {
  MAX_CABUNDLE_LENGTH,
  MAX_CERTIFICATE_BYTES,
  MAX_MODULE_ID_LENGTH,
  MAX_OPTIONAL_FIELD_BYTES,
  MAX_PCRS,
} from './document.js';
export { MAX_CBOR_CONTAINER_ITEMS, MAX_CBOR_DEPTH } from './cbor.js';
export { nameToString, parseCertificate } from './x509.js';
export type { Certificate } from './x509.js';
