/**
 * Genuine GitHub Actions ID tokens (test/fixtures/github-oidc, SOURCES.md) against the pinned
 * JWKS of src/oidc/github-jwks.ts: GitHub's own signatures verify with the pinned keys, the
 * claims read are the run's, and the refusals happen on the genuine bytes (edited payload, key
 * not trusted, audience not ours). Also: the pinned set holds the keys of its sources.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  GITHUB_ACTIONS_ISSUER,
  GITHUB_ACTIONS_JWKS,
  audienceFor,
  decodeJwt,
  parseJwks,
  readClaims,
  verifyJwtSignature,
  verifyWorkflowToken,
} from '../../src/oidc/index.js';

const DIR = new URL('../fixtures/github-oidc/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, DIR), 'utf8').trim();

/** Each genuine token, the key GitHub named, and the run it describes. */
const VECTORS = [
  {
    file: 'token-rgl-2025.jwt',
    kid: '38826b17-6a30-5f9b-b169-8beb8202f723',
    iat: 1743246227,
    claims: {
      repository: 'rgl/github-actions-validate-jwt',
      repository_id: '957014466',
      ref: 'refs/heads/main',
      sha: '0f661a4a011d77cb21fa4dc7013d9b6f928666ed',
      workflow_ref: 'rgl/github-actions-validate-jwt/.github/workflows/build.yml@refs/heads/main',
      run_id: '14144996512',
      run_attempt: '1',
      runner_environment: 'github-hosted',
      event_name: 'push',
    },
  },
  {
    file: 'token-rubygems-2023.jwt',
    kid: '78167F727DEC5D801DD1C8784C704A1C880EC0E1',
    iat: 1680020537,
    claims: {
      repository: 'segiddins/oidc-test',
      repository_id: '620393838',
      ref: 'refs/heads/main',
      sha: '04de3558bc5861874a86f8fcd67e516554101e71',
      workflow_ref: 'segiddins/oidc-test/.github/workflows/token.yml@refs/heads/main',
      run_id: '4545231084',
      run_attempt: '1',
      runner_environment: 'github-hosted',
      event_name: 'push',
    },
  },
] as const;

describe('genuine GitHub Actions tokens against the pinned JWKS', () => {
  it.each(VECTORS)(
    'when $file is checked, GitHub’s signature verifies with pinned key $kid and the run’s claims are read',
    async (v) => {
      const jwt = decodeJwt(read(v.file));
      expect(jwt.header).toMatchObject({ alg: 'RS256', kid: v.kid, typ: 'JWT' });
      const key = await verifyJwtSignature(jwt, GITHUB_ACTIONS_JWKS.keys);
      expect(key.kid).toBe(v.kid);
      const claims = readClaims(jwt.claims);
      expect(claims).toMatchObject({ ...v.claims, iss: GITHUB_ACTIONS_ISSUER, iat: v.iat });
    },
  );

  it.each(VECTORS)(
    'when $file is checked as a build’s token at its own iat, the signature passes and its audience (not ours) is refused',
    async (v) => {
      // The signature and issuer are checked before the audience: reaching the audience check
      // means GitHub's signature verified with the pinned set, at the token's time.
      await expect(
        verifyWorkflowToken(read(v.file), GITHUB_ACTIONS_JWKS.keys, {
          sha: v.claims.sha,
          nonce: 'ab'.repeat(32),
          attestedAtMs: v.iat * 1000,
        }),
      ).rejects.toHaveCode('OIDC_AUDIENCE_MISMATCH');
      expect(audienceFor('ab'.repeat(32))).not.toBe(decodeJwt(read(v.file)).claims.aud);
    },
  );

  it('when one claim of a genuine token is edited, OIDC_SIGNATURE_INVALID', async () => {
    const [h, p, s] = read('token-rgl-2025.jwt').split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    claims.repository = 'acme/app';
    const edited = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    await expect(
      verifyJwtSignature(decodeJwt(edited), GITHUB_ACTIONS_JWKS.keys),
    ).rejects.toHaveCode('OIDC_SIGNATURE_INVALID');
  });

  it('when the signing key is not among the trusted keys, OIDC_KEY_UNKNOWN', async () => {
    const others = GITHUB_ACTIONS_JWKS.keys.filter((k) => k.kid !== VECTORS[0].kid);
    await expect(verifyJwtSignature(decodeJwt(read(VECTORS[0].file)), others)).rejects.toHaveCode(
      'OIDC_KEY_UNKNOWN',
    );
  });
});

describe('the pinned set', () => {
  it('when read as the verifier reads a JWKS, every pinned key is an RSA key of 2048 bits or more, named once, with where and when it was taken', () => {
    const keys = GITHUB_ACTIONS_JWKS.keys;
    const parsed = parseJwks(
      JSON.stringify({ keys: keys.map((k) => ({ kty: 'RSA', kid: k.kid, n: k.n, e: k.e })) }),
      'pinned',
    );
    expect(parsed).toHaveLength(keys.length);
    expect(new Set(keys.map((k) => k.kid)).size).toBe(keys.length);
    for (const k of keys) {
      expect(k.from).not.toBe('');
      expect(Number.isNaN(Date.parse(k.takenAt))).toBe(false);
    }
    expect(GITHUB_ACTIONS_JWKS.takenAt).not.toBeNull();
  });

  it.each(['jwks-forgejo-2026.json', 'jwks-rubygems-2023.json'])(
    'when compared with its source %s, it holds each of its keys with the same modulus',
    (file) => {
      const pinned = new Map(GITHUB_ACTIONS_JWKS.keys.map((k) => [k.kid, k]));
      for (const k of parseJwks(read(file), file)) {
        expect(pinned.get(k.kid)).toMatchObject({ n: k.n, e: k.e });
      }
    },
  );
});
