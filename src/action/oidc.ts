/**
 * The workflow's OIDC token for a build: asked of GitHub with audience `tee-compile:<nonce hex>`,
 * so that it names this build and no other relying party accepts it. Needs `permissions:
 * id-token: write`; without it (no ACTIONS_ID_TOKEN_REQUEST_URL) the build goes on without a
 * token, with a notice, and its bundle's repository stays an unverified label.
 */
import * as core from '@actions/core';
import type { RsaJwk } from '../oidc/index.js';
import { GITHUB_ACTIONS_JWKS, audienceFor, parseJwks } from '../oidc/index.js';
import type { ActionLog, IdTokenSource } from './deps.js';

/** Asks GitHub for an ID token of `audience` (@actions/core's getIDToken). */
export type { IdTokenSource };

/** The runner's token service, when the job may ask it (`id-token: write`); else null. */
export function runnerIdTokenSource(env: NodeJS.ProcessEnv): IdTokenSource | null {
  if (
    env.ACTIONS_ID_TOKEN_REQUEST_URL === undefined ||
    env.ACTIONS_ID_TOKEN_REQUEST_TOKEN === undefined
  )
    return null;
  return (audience) => core.getIDToken(audience);
}

/**
 * Where the action reads the issuer's current JWKS: GitHub's, unless `TEE_COMPILE_OIDC_JWKS_URL`
 * names another copy (an issuer mirror inside a closed network, or a stand-in of the token
 * service). It serves only the action's own check before publishing; consumers verify against
 * the pinned set and the files they give (`--oidc-jwks`).
 */
export function githubJwksUrl(env: NodeJS.ProcessEnv): string {
  const url = env.TEE_COMPILE_OIDC_JWKS_URL;
  return url === undefined || url === '' ? GITHUB_ACTIONS_JWKS.source : url;
}

/**
 * GitHub's current JWKS, fetched for the action's own check of the bundle it just built (the
 * runner is online; offline verifiers use the pinned set or `--oidc-jwks`).
 */
export async function fetchGitHubJwks(url = GITHUB_ACTIONS_JWKS.source): Promise<RsaJwk[]> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return parseJwks(await res.text(), url);
}

/** The token for a build of `nonce`, or null (with a notice) when none can be had. */
export async function buildIdToken(
  source: IdTokenSource | null | undefined,
  nonce: string,
  log: ActionLog,
): Promise<string | null> {
  if (source == null) {
    log.info(
      'notice: no OIDC token (give the job `permissions: id-token: write` to bind the workflow to the bundle); the repository will be an unverified label',
    );
    return null;
  }
  const token = await source(audienceFor(nonce));
  core.setSecret(token);
  log.info(`workflow OIDC token obtained for audience ${audienceFor(nonce)}`);
  return token;
}
