import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Refusals of a workflow's OIDC token (GitHub Actions ID token). Codes are API: add, never
 * rename; the verifier reports them as they are.
 */
export const OIDC_ERROR_CODES = [
  'OIDC_TOKEN_INVALID', // not a compact RS256 JWS with GitHub's claims (shape, sizes, times)
  'OIDC_SIGNATURE_INVALID', // the signature does not verify with the key its `kid` names
  'OIDC_KEY_UNKNOWN', // no trusted JWKS holds the token's `kid`
  'OIDC_ISSUER_MISMATCH', // `iss` is not GitHub Actions' issuer (or the one given)
  'OIDC_AUDIENCE_MISMATCH', // `aud` is not `tee-compile:<nonce hex>` of this build
  'OIDC_SHA_MISMATCH', // `sha` is not the built commit
  'OIDC_JWKS_INVALID', // a JWKS given as trust is not a JSON Web Key Set of RSA keys
] as const;

export type OidcErrorCode = (typeof OIDC_ERROR_CODES)[number];

export class OidcError extends TeeCompileError<OidcErrorCode> {}

export const isOidcError = errorGuard(OidcError);
