/**
 * The verifier's check of a workflow token: RS256 signature with a trusted key, then the claims
 * against the build (./claims.ts). Time: the token expires minutes after it is issued, and a
 * bundle is read months later, so `exp` is not compared with the verifier's clock; instead the
 * token must have been issued before the enclave attested the build (with a little clock skew),
 * which the attestation's own timestamp tells.
 */
import type { ClaimExpectations, WorkflowClaims } from './claims.js';
import { checkClaims, readClaims } from './claims.js';
import { OidcError } from './errors.js';
import type { RsaJwk } from './jwks.js';
import { verifyJwtSignature } from './jwks.js';
import { decodeJwt } from './jwt.js';

/** Clock skew allowed between GitHub's clock and the enclave's (seconds). */
export const OIDC_CLOCK_SKEW_S = 300;

export interface TokenVerification {
  claims: WorkflowClaims;
  /** The key that verified the signature. */
  kid: string;
}

/**
 * Verifies a workflow token against trusted keys and the build. Throws OidcError with one of
 * OIDC_TOKEN_INVALID, OIDC_KEY_UNKNOWN, OIDC_SIGNATURE_INVALID, OIDC_ISSUER_MISMATCH,
 * OIDC_AUDIENCE_MISMATCH, OIDC_SHA_MISMATCH.
 */
export async function verifyWorkflowToken(
  token: string,
  keys: readonly RsaJwk[],
  want: ClaimExpectations & { attestedAtMs: number },
): Promise<TokenVerification> {
  const jwt = decodeJwt(token);
  const jwk = await verifyJwtSignature(jwt, keys);
  const claims = readClaims(jwt.claims);
  checkClaims(claims, want);
  if (claims.iat > want.attestedAtMs / 1000 + OIDC_CLOCK_SKEW_S)
    throw new OidcError('OIDC_TOKEN_INVALID', 'the token was issued after the build was attested', {
      path: 'oidcToken.iat',
    });
  return { claims, kid: jwk.kid };
}
