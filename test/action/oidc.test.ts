/**
 * The action's OIDC token request through @actions/core's real getIDToken, against the GitHub
 * token service stand-in: the audience binds the nonce; without `id-token: write` there is no
 * token and a notice.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  buildIdToken,
  fetchGitHubJwks,
  githubJwksUrl,
  runnerIdTokenSource,
} from '../../src/action/oidc.js';
import type { ActionLog } from '../../src/action/deps.js';
import {
  checkTokenClaims,
  decodeJwt,
  parseJwks,
  verifyJwtSignature,
} from '../../src/oidc/index.js';
import type { OidcStandin } from '../support/github/github-oidc.js';
import { startOidcStandin } from '../support/github/github-oidc.js';

let oidc: OidcStandin;
const nonce = 'ab'.repeat(32);
const sha = 'c'.repeat(40);
const lines: string[] = [];
const log: ActionLog = {
  info: (m) => lines.push(m),
  warning: (m) => lines.push(m),
  error: (m) => lines.push(m),
  debug: () => undefined,
  startGroup: () => undefined,
  endGroup: () => undefined,
  untrusted: () => undefined,
};

beforeAll(async () => {
  oidc = await startOidcStandin({ sha, repository: 'acme/app' });
});
afterAll(() => oidc.close());

describe('the action asks GitHub for a token bound to the nonce', () => {
  it('when id-token: write is given, getIDToken returns a token for tee-compile:<nonce> that the worker accepts', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, oidc.env);
    try {
      const token = await buildIdToken(runnerIdTokenSource(process.env), nonce, log);
      expect(oidc.requested).toEqual([`tee-compile:${nonce}`]);
      const claims = checkTokenClaims(token!, { sha, nonce });
      expect(claims.repository).toBe('acme/app');
      const keys = parseJwks(await (await fetch(oidc.jwksUrl)).text());
      await expect(verifyJwtSignature(decodeJwt(token!), keys)).resolves.toMatchObject({
        kid: oidc.key.kid,
      });
      // Another build's nonce: the worker refuses the token.
      expect(() => checkTokenClaims(token!, { sha, nonce: 'cd'.repeat(32) })).toThrowWithCode(
        'OIDC_AUDIENCE_MISMATCH',
      );
      expect(() => checkTokenClaims(token!, { sha: 'd'.repeat(40), nonce })).toThrowWithCode(
        'OIDC_SHA_MISMATCH',
      );
    } finally {
      process.env = saved;
    }
  });

  it('when the job has no id-token permission, there is no token and a notice', async () => {
    expect(runnerIdTokenSource({})).toBeNull();
    expect(await buildIdToken(null, nonce, log)).toBeNull();
    expect(lines.some((l) => l.includes('id-token: write'))).toBe(true);
  });
});

describe("the keys of the action's own check", () => {
  it('when TEE_COMPILE_OIDC_JWKS_URL is unset or empty, they are read from GitHub’s issuer; when set, from there', async () => {
    expect(githubJwksUrl({})).toBe('https://token.actions.githubusercontent.com/.well-known/jwks');
    expect(githubJwksUrl({ TEE_COMPILE_OIDC_JWKS_URL: '' })).toBe(
      'https://token.actions.githubusercontent.com/.well-known/jwks',
    );
    const url = githubJwksUrl({ TEE_COMPILE_OIDC_JWKS_URL: oidc.jwksUrl });
    expect(url).toBe(oidc.jwksUrl);
    expect((await fetchGitHubJwks(url)).map((k) => k.kid)).toEqual([oidc.key.kid]);
  });
});
