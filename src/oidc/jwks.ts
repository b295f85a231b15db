/**
 * JSON Web Key Sets (RFC 7517 §5) of RSA signing keys, and RS256 (RFC 7518 §3.3) verification of
 * a token with the key its `kid` names, on Web Crypto. The keys are trust material, like the AWS
 * Nitro root: the pinned set of GitHub's keys (./github-jwks.ts) plus sets the user gives.
 */
import { bufferSource } from '../util/bytes.js';
import { OidcError } from './errors.js';
import { fromBase64Url } from './jwt.js';
import type { DecodedJwt } from './jwt.js';

/** One RSA key of a JWKS. */
export interface RsaJwk {
  kid: string;
  n: string;
  e: string;
}

/** Largest JWKS read, and most keys. */
export const MAX_JWKS_BYTES = 256 * 1024;
export const MAX_JWKS_KEYS = 64;
/** Smallest RSA modulus accepted (bits). GitHub's keys are 2048-bit. */
export const MIN_JWK_RSA_BITS = 2048;

function bad(name: string, what: string): never {
  throw new OidcError('OIDC_JWKS_INVALID', `${name}: ${what}`, { path: name });
}

/** Parses a JWKS document; keeps its RSA signature keys. Throws OIDC_JWKS_INVALID. */
export function parseJwks(text: string, name = 'jwks'): RsaJwk[] {
  if (text.length > MAX_JWKS_BYTES) bad(name, `larger than ${MAX_JWKS_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    bad(name, 'not JSON');
  }
  const keys = (v as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) bad(name, 'expected {"keys": [...]}');
  if (keys.length > MAX_JWKS_KEYS) bad(name, `more than ${MAX_JWKS_KEYS} keys`);
  const out: RsaJwk[] = [];
  keys.forEach((k: unknown, i) => {
    const o = k as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object') bad(name, `keys.${i} is not an object`);
    if (o.kty !== 'RSA' || (o.use !== undefined && o.use !== 'sig')) return;
    if (typeof o.kid !== 'string' || typeof o.n !== 'string' || typeof o.e !== 'string')
      bad(name, `keys.${i}: an RSA key needs kid, n and e`);
    const n = fromBase64Url(o.n);
    if (n === null || fromBase64Url(o.e) === null)
      bad(name, `keys.${i}: n and e must be base64url`);
    if ((n.length - (n[0] === 0 ? 1 : 0)) * 8 < MIN_JWK_RSA_BITS)
      bad(name, `keys.${i}: modulus under ${MIN_JWK_RSA_BITS} bits`);
    out.push({ kid: o.kid, n: o.n, e: o.e });
  });
  return out;
}

/**
 * Verifies a decoded token's RS256 signature with the key of `keys` its `kid` names. Throws
 * OIDC_TOKEN_INVALID (not RS256, no kid), OIDC_KEY_UNKNOWN or OIDC_SIGNATURE_INVALID.
 */
export async function verifyJwtSignature(
  jwt: DecodedJwt,
  keys: readonly RsaJwk[],
): Promise<RsaJwk> {
  const { alg, kid } = jwt.header;
  if (alg !== 'RS256')
    throw new OidcError('OIDC_TOKEN_INVALID', `the token's alg is ${String(alg)}, not RS256`, {
      path: 'oidcToken.header.alg',
    });
  if (typeof kid !== 'string')
    throw new OidcError('OIDC_TOKEN_INVALID', 'the token names no key (kid)', {
      path: 'oidcToken.header.kid',
    });
  const jwk = keys.find((k) => k.kid === kid);
  if (jwk === undefined)
    throw new OidcError(
      'OIDC_KEY_UNKNOWN',
      `no trusted JWKS holds key ${kid}; give GitHub's current keys with --oidc-jwks`,
      {
        path: 'oidcToken.header.kid',
      },
    );
  const alg256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  let ok: boolean;
  try {
    const key = await globalThis.crypto.subtle.importKey(
      'jwk',
      { kty: 'RSA', n: jwk.n, e: jwk.e, ext: true },
      alg256,
      false,
      ['verify'],
    );
    ok = await globalThis.crypto.subtle.verify(
      alg256,
      key,
      bufferSource(jwt.signature),
      bufferSource(jwt.signingInput),
    );
  } catch (e) {
    throw new OidcError(
      'OIDC_SIGNATURE_INVALID',
      `key ${kid} cannot verify the token: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (!ok)
    throw new OidcError(
      'OIDC_SIGNATURE_INVALID',
      `the token's signature does not verify with key ${kid}`,
      { path: 'oidcToken.signature' },
    );
  return jwk;
}
