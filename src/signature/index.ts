/**
 * Signatures on git commits and tags: the bytes git signs, SSH signatures (sshsig), OpenPGP
 * (OpenPGP.js), git's allowed signers file, and the worker's record and the verifier's verdict.
 * Pure (Web Crypto, @noble/hashes, OpenPGP.js): runs in the worker and in browsers.
 */
export { SIGNATURE_ERROR_CODES, SignatureError, isSignatureError } from './errors.js';
export type { SignatureErrorCode } from './errors.js';
export { splitCommitSignature, splitTagSignature } from './git-signed.js';
export type { SignatureFormat, SignedObject } from './git-signed.js';
export {
  MAX_SSH_SIGNATURE_CHARS,
  parseSshSignature,
  sshSignedData,
  verifySshSignature,
} from './sshsig.js';
export type { SshSignature, SshVerification } from './sshsig.js';
export { parseSshPublicKey, sshFingerprint, sshPublicKeyText } from './ssh-wire.js';
export {
  MAX_ALLOWED_SIGNERS,
  MAX_ALLOWED_SIGNERS_BYTES,
  parseAllowedSigners,
  parseSignerTime,
  principalMatches,
  signerRefusal,
} from './allowed-signers.js';
export type { AllowedSigner } from './allowed-signers.js';
export {
  MAX_PGP_KEY_CHARS,
  MAX_PGP_SIGNATURE_CHARS,
  readPgpKey,
  verifyPgpSignature,
} from './openpgp.js';
export type { PgpKey, PgpVerification } from './openpgp.js';
export { GIT_NAMESPACE, describeKey, inspectSignature, judgeSignature } from './check.js';
export type { SignatureRecord, SignatureVerdict, SignerTrust } from './check.js';
