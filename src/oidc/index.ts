/**
 * The workflow's OIDC token (GitHub Actions ID token) bound to a build's nonce: decoding, claim
 * checks (worker and verifier), RS256 verification against pinned and given JWKS. Pure (Web
 * Crypto): runs in the worker and in browsers.
 */
export { OIDC_ERROR_CODES, OidcError, isOidcError } from './errors.js';
export type { OidcErrorCode } from './errors.js';
export { MAX_TOKEN_CHARS, decodeJwt, fromBase64Url, toBase64Url } from './jwt.js';
export type { DecodedJwt } from './jwt.js';
export {
  GITHUB_ACTIONS_ISSUER,
  REPORTED_CLAIMS,
  audienceFor,
  checkClaims,
  checkTokenClaims,
  readClaims,
} from './claims.js';
export type { ClaimExpectations, WorkflowClaims } from './claims.js';
export { MAX_JWKS_BYTES, MAX_JWKS_KEYS, parseJwks, verifyJwtSignature } from './jwks.js';
export type { RsaJwk } from './jwks.js';
export { GITHUB_ACTIONS_JWKS } from './github-jwks.js';
export type { PinnedJwks } from './github-jwks.js';
export { OIDC_CLOCK_SKEW_S, verifyWorkflowToken } from './verify.js';
export type { TokenVerification } from './verify.js';
