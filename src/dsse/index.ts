/**
 * DSSE (Dead Simple Signing Envelope, github.com/secure-systems-lab/dsse): the pre-authentication
 * encoding, envelopes in tee-compile's one JSON form, and ECDSA P-256 SHA-256 signing and
 * checking. Web APIs only: the verify path and the web page use it as the worker does.
 */
export { DSSE_ERROR_CODES, DsseError, isDsseError } from './errors.js';
export type { DsseErrorCode } from './errors.js';
export { pae } from './pae.js';
export {
  IN_TOTO_PAYLOAD_TYPE,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPE_SIGNATURES,
  MAX_ENVELOPE_TEXT,
  encodeEnvelope,
  parseEnvelope,
} from './envelope.js';
export type { DsseEnvelope, DsseSignature } from './envelope.js';
export {
  MAX_P256_DER_SIGNATURE_BYTES,
  derToRaw,
  importP256PrivateKey,
  importP256PublicKey,
  keyFingerprint,
  keyId,
  rawToDer,
} from './ecdsa.js';
export { cryptoKeySigner, signEnvelope, verifyEnvelope } from './sign.js';
export type { DsseSigner } from './sign.js';
