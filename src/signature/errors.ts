import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Codes of the signature module: malformed signatures and malformed trust material. Whether a
 * well-formed signature verifies, and whether its signer is trusted, is data (see check.ts), not
 * an error. Codes are API: add, never rename.
 */
export const SIGNATURE_ERROR_CODES = [
  'SIGNATURE_MALFORMED', // an armored signature or its wire form is not what its format defines
  'ALLOWED_SIGNERS_INVALID', // a line of an allowed signers file is not in git's/ssh-keygen's format
  'PGP_KEY_INVALID', // an OpenPGP public key given as trust is not a readable armored key
] as const;

export type SignatureErrorCode = (typeof SIGNATURE_ERROR_CODES)[number];

export class SignatureError extends TeeCompileError<SignatureErrorCode> {}

export const isSignatureError = errorGuard(SignatureError);
