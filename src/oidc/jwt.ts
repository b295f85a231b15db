/**
 * Compact JWS (RFC 7515 §7.1) decoding, strict: three base64url (RFC 7515 §2, no padding)
 * segments, a JSON object header and payload, bounded size. Our own few lines because the token
 * is untrusted and the verify path must run in browsers without a JOSE dependency.
 */
import { OidcError } from './errors.js';

/** A GitHub Actions ID token is about 1.5 KB; anything near this bound is not one. */
export const MAX_TOKEN_CHARS = 16 * 1024;

/** A decoded compact JWS. */
export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `<header>.<payload>` as ASCII bytes: what the signature covers. */
  signingInput: Uint8Array;
  signature: Uint8Array;
}

function invalid(what: string): never {
  throw new OidcError('OIDC_TOKEN_INVALID', `the OIDC token is malformed: ${what}`);
}

/** Decodes unpadded base64url, or null. */
export function fromBase64Url(s: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  // Exactly one spelling: re-encode and compare (non-zero trailing bits are refused).
  return toBase64Url(out) === s ? out : null;
}

/** Unpadded base64url. */
export function toBase64Url(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function jsonObject(seg: string, what: string): Record<string, unknown> {
  const bytes = fromBase64Url(seg);
  if (bytes === null) invalid(`${what} is not base64url`);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    invalid(`${what} is not UTF-8 JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    invalid(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Decodes a compact JWS without verifying it. Throws OIDC_TOKEN_INVALID. */
export function decodeJwt(token: string): DecodedJwt {
  if (token.length > MAX_TOKEN_CHARS) invalid(`longer than ${MAX_TOKEN_CHARS} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) invalid('not three dot-separated segments');
  const [h, p, s] = parts as [string, string, string];
  const header = jsonObject(h, 'the header');
  const claims = jsonObject(p, 'the payload');
  const signature = fromBase64Url(s);
  if (signature === null || signature.length === 0) invalid('the signature is not base64url');
  return { header, claims, signingInput: new TextEncoder().encode(`${h}.${p}`), signature };
}
