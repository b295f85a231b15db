/**
 * The pinned JSON Web Key Set of GitHub Actions' OIDC issuer
 * (https://token.actions.githubusercontent.com/.well-known/jwks), trust material like the AWS
 * Nitro root: a token's signature is checked against these keys plus any set the user gives
 * (`verify --oidc-jwks FILE`), never fetched at verification time, so that a bundle verifies
 * offline and keeps verifying after GitHub rotates its keys.
 *
 * `keys` is empty in this version: no copy of GitHub's set could be taken from public material
 * while this was written (the network here reaches only package registries). Until it is filled,
 * tokens verify only with `--oidc-jwks`. To pin the current set (docs/verify.md, "Workflow
 * token"): `curl -fsS https://token.actions.githubusercontent.com/.well-known/jwks >
 * github-jwks.json && node scripts/pin-github-jwks.mjs github-jwks.json`, which rewrites this
 * file with the keys and the time they were taken. Keep retired keys: old bundles need them.
 */
import type { RsaJwk } from './jwks.js';

export interface PinnedJwks {
  /** Where the keys were taken from. */
  source: string;
  /** When (RFC 3339), or null when nothing has been pinned. */
  takenAt: string | null;
  keys: readonly RsaJwk[];
}

export const GITHUB_ACTIONS_JWKS: PinnedJwks = {
  source: 'https://token.actions.githubusercontent.com/.well-known/jwks',
  takenAt: null,
  keys: [],
};
