/**
 * GitHub Actions ID token claims (docs.github.com, "About security hardening with OpenID
 * Connect", "Understanding the OIDC token") and their check against one build: `iss` is GitHub
 * Actions' issuer, `aud` is `tee-compile:<nonce hex>` (the action asks for exactly that audience,
 * so the token can serve no other relying party and no other build), `sha` is the built commit.
 * The worker runs this inside the enclave; the verifier runs it again after the signature.
 */
import { OidcError } from './errors.js';
import { decodeJwt } from './jwt.js';

/** The issuer of GitHub Actions ID tokens on github.com. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com';

/** The audience the action asks for: binds the token to this build's nonce. */
export function audienceFor(nonceHex: string): string {
  return `tee-compile:${nonceHex.toLowerCase()}`;
}

/** The claims the verifier reports as verified facts (all strings, as GitHub writes them). */
export const REPORTED_CLAIMS = [
  'repository',
  'repository_id',
  'repository_owner',
  'ref',
  'sha',
  'workflow_ref',
  'job_workflow_ref',
  'run_id',
  'run_attempt',
  'runner_environment',
  'event_name',
] as const;

export type WorkflowClaims = Partial<Record<(typeof REPORTED_CLAIMS)[number], string>> & {
  iss: string;
  aud: string;
  iat: number;
  exp: number;
};

/** What the token must name. */
export interface ClaimExpectations {
  /** The built commit (hex). */
  sha: string;
  /** The build's nonce (hex). */
  nonce: string;
  /** Accepted issuers; default GitHub Actions' (GitHub Enterprise Server has its own). */
  issuers?: readonly string[];
}

function fail(code: OidcError['code'], message: string, path: string): never {
  throw new OidcError(code, message, { path: `oidcToken.${path}` });
}

/** Reads the claims of a decoded token into their typed form. Throws OIDC_TOKEN_INVALID. */
export function readClaims(raw: Record<string, unknown>): WorkflowClaims {
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > 2048)
      fail('OIDC_TOKEN_INVALID', `claim ${k} is not a string`, k);
    return v;
  };
  const num = (k: string): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      fail('OIDC_TOKEN_INVALID', `claim ${k} is not a time`, k);
    return v;
  };
  const audRaw = raw.aud;
  const aud = Array.isArray(audRaw) && audRaw.length === 1 ? (audRaw[0] as unknown) : audRaw;
  if (typeof aud !== 'string')
    fail('OIDC_AUDIENCE_MISMATCH', 'claim aud is not one audience', 'aud');
  const out: WorkflowClaims = { iss: str('iss'), aud, iat: num('iat'), exp: num('exp') };
  if (out.exp < out.iat)
    fail('OIDC_TOKEN_INVALID', 'the token expires before it was issued', 'exp');
  for (const k of REPORTED_CLAIMS) if (raw[k] !== undefined) out[k] = str(k);
  return out;
}

/** Checks claims against a build. Throws OIDC_ISSUER_MISMATCH, OIDC_AUDIENCE_MISMATCH, OIDC_SHA_MISMATCH. */
export function checkClaims(c: WorkflowClaims, want: ClaimExpectations): void {
  const issuers = want.issuers ?? [GITHUB_ACTIONS_ISSUER];
  if (!issuers.includes(c.iss))
    fail('OIDC_ISSUER_MISMATCH', `issuer ${c.iss} is not ${issuers.join(' or ')}`, 'iss');
  const aud = audienceFor(want.nonce);
  if (c.aud !== aud)
    fail('OIDC_AUDIENCE_MISMATCH', `audience ${c.aud} is not this build's ${aud}`, 'aud');
  if (c.sha === undefined || c.sha.toLowerCase() !== want.sha.toLowerCase())
    fail(
      'OIDC_SHA_MISMATCH',
      `the token names commit ${c.sha ?? '(none)'}, the build is of ${want.sha}`,
      'sha',
    );
}

/**
 * The worker's check: decodes the token and checks its claims against the build (the signature
 * is the verifier's business: it holds the keys). Returns the claims recorded in provenance.json.
 */
export function checkTokenClaims(token: string, want: ClaimExpectations): WorkflowClaims {
  const c = readClaims(decodeJwt(token).claims);
  checkClaims(c, want);
  return c;
}
