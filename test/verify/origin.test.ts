/**
 * The verifier's checks of the source's origin, on attested bundles (simulated NSM) whose
 * provenance carries real commit and tag objects (git, ssh-keygen) and workflow tokens from the
 * GitHub token service stand-in. Every origin refusal code is made to happen here.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { audienceFor, parseJwks } from '../../src/oidc/index.js';
import type { RsaJwk } from '../../src/oidc/index.js';
import {
  computeCommitId,
  computeTagId,
  originDescriptors,
  parseCommitObject,
} from '../../src/provenance/index.js';
import {
  inspectSignature,
  parseAllowedSigners,
  splitCommitSignature,
  splitTagSignature,
} from '../../src/signature/index.js';
import type { TrustPolicy, VerifyErrorCode } from '../../src/verify/index.js';
import { VERIFY_ERROR_CODES, buildTrustPolicy, verifyBundle } from '../../src/verify/index.js';
import { loadDefaultImages } from '../../src/verify/node.js';
import {
  ATTESTED_AT,
  DEFAULT_NONCE,
  VERIFIED_AT,
  makeBundle,
} from '../support/bundles/bundle-factory.js';
import type { OidcStandin } from '../support/github/github-oidc.js';
import { makeStandinKey, signToken, startOidcStandin } from '../support/github/github-oidc.js';
import { gitBytes, makeRepo } from '../support/source/provenance-git.js';
import type { TestSigner } from '../support/source/signing.js';
import {
  allowedSignersFile,
  makeSshSigner,
  signedCommit,
  signedTag,
} from '../support/source/signing.js';

let oidc: OidcStandin;
let jwks: RsaJwk[];
let alice: TestSigner;
let mallory: TestSigner;
/** A repository with an unsigned commit, a commit and tag signed by alice. */
let repo: string;
let plainCommit: Uint8Array;
let signedRaw: Uint8Array;
let tagRaw: Uint8Array;
let base: TrustPolicy;

const seen = new Set<string>();
const IAT = Math.floor(ATTESTED_AT / 1000) - 120;

beforeAll(async () => {
  oidc = await startOidcStandin();
  jwks = parseJwks(JSON.stringify(await (await fetch(oidc.jwksUrl)).json()), 'standin');
  alice = makeSshSigner('ed25519', 'alice@acme');
  mallory = makeSshSigner('ecdsa-256', 'mallory@evil');
  repo = makeRepo({ 'a.txt': 'a' });
  plainCommit = new Uint8Array(gitBytes(repo, ['cat-file', 'commit', 'HEAD']));
  signedCommit(repo, alice, 'release');
  signedTag(repo, alice, 'v1.0.0');
  signedRaw = new Uint8Array(gitBytes(repo, ['cat-file', 'commit', 'HEAD']));
  tagRaw = new Uint8Array(gitBytes(repo, ['cat-file', 'tag', 'v1.0.0']));
  base = buildTrustPolicy({
    defaultImages: await loadDefaultImages(),
    flags: { allowSimulated: true },
  });
});
afterAll(() => oidc.close());

interface Origin {
  commit: Uint8Array;
  tag?: Uint8Array;
  token?: string;
  repository?: string | null;
  nonce?: string;
}

async function bundle(o: Origin): Promise<Uint8Array> {
  const commitId = computeCommitId(o.commit, 'sha1');
  const parsed = parseCommitObject(o.commit);
  const byproducts = originDescriptors({
    commit: {
      raw: o.commit,
      id: commitId,
      signature: await inspectSignature(splitCommitSignature(o.commit, 'sha1')),
    },
    ...(o.tag
      ? {
          tag: {
            raw: o.tag,
            id: computeTagId(o.tag, 'sha1'),
            name: 'v1.0.0',
            signature: await inspectSignature(splitTagSignature(o.tag)),
          },
        }
      : {}),
    ...(o.token ? { oidcToken: { token: o.token, claims: {} } } : {}),
  });
  const made = await makeBundle({
    commit: commitId,
    tree: parsed.tree,
    repository: o.repository === undefined ? null : o.repository,
    ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
    byproducts,
  });
  return made.bytes;
}

function policy(
  extra: Partial<NonNullable<TrustPolicy['source']>> = {},
  repository?: string,
): TrustPolicy {
  return { ...base, source: { ...(repository ? { repository } : {}), ...extra } };
}

const signers = (lines: { signer: TestSigner; options?: string }[]) => ({
  ssh: parseAllowedSigners(readFileSync(allowedSignersFile(lines), 'utf8')),
  pgp: [],
});

async function verified(bytes: Uint8Array, p: TrustPolicy) {
  const r = await verifyBundle(bytes, p, { now: VERIFIED_AT, oidcKeys: jwks });
  if (!r.ok) throw new Error(`refused ${r.code}: ${r.message}`);
  return r;
}

async function refused(
  bytes: Uint8Array,
  p: TrustPolicy,
  code: VerifyErrorCode,
  oidcKeys = jwks,
): Promise<void> {
  const r = await verifyBundle(bytes, p, { now: VERIFIED_AT, oidcKeys });
  expect(r.ok ? null : r.code).toBe(code);
  seen.add(code);
}

const token = (over: Record<string, unknown> = {}, sha?: string, nonce = DEFAULT_NONCE): string =>
  signToken(oidc.key, { ...oidc.job, sha: sha ?? headId() }, audienceFor(nonce), IAT, over);
const headId = (): string => computeCommitId(signedRaw, 'sha1');

describe('signed commits and tags in the verifier', () => {
  it('when the commit and tag are signed by an allowed signer, the facts name them', async () => {
    const r = await verified(
      await bundle({ commit: signedRaw, tag: tagRaw }),
      policy({ signers: signers([{ signer: alice }]), requireSigned: 'tag', tag: 'v1.0.0' }),
    );
    expect(r.origin.commit?.signature).toMatchObject({ status: 'trusted', signer: 'alice@acme' });
    expect(r.origin.tag).toMatchObject({ name: 'v1.0.0', signature: { status: 'trusted' } });
    expect(r.origin.repository.basis).toBe('label');
  });

  it('when signers are named and the commit is unsigned, SOURCE_UNSIGNED', async () => {
    await refused(
      await bundle({ commit: plainCommit }),
      policy({ signers: signers([{ signer: alice }]) }),
      'SOURCE_UNSIGNED',
    );
  });

  it('when a signed tag is required and the build is not of a tag, SOURCE_UNSIGNED', async () => {
    await refused(
      await bundle({ commit: signedRaw }),
      policy({ requireSigned: 'tag', signers: signers([{ signer: alice }]) }),
      'SOURCE_UNSIGNED',
    );
  });

  it('when the commit is edited after signing, SOURCE_SIGNATURE_INVALID', async () => {
    const edited = new TextEncoder().encode(
      new TextDecoder().decode(signedRaw).replace('release', 'relaese'),
    );
    await refused(
      await bundle({ commit: edited }),
      policy({ signers: signers([{ signer: alice }]) }),
      'SOURCE_SIGNATURE_INVALID',
    );
  });

  it('when another key signed, or the key had expired at the commit time, SOURCE_SIGNER_UNTRUSTED', async () => {
    const b = await bundle({ commit: signedRaw });
    await refused(
      b,
      policy({ signers: signers([{ signer: mallory }]) }),
      'SOURCE_SIGNER_UNTRUSTED',
    );
    await refused(
      b,
      policy({ signers: signers([{ signer: alice, options: 'valid-before="20231231"' }]) }),
      'SOURCE_SIGNER_UNTRUSTED',
    );
  });

  it('when another tag is asked for, SOURCE_TAG_MISMATCH', async () => {
    await refused(
      await bundle({ commit: signedRaw, tag: tagRaw }),
      policy({ tag: 'v2' }),
      'SOURCE_TAG_MISMATCH',
    );
    await refused(
      await bundle({ commit: signedRaw }),
      policy({ tag: 'v1.0.0' }),
      'SOURCE_TAG_MISMATCH',
    );
  });
});

describe('the workflow token in the verifier', () => {
  it('when the token verifies, its claims are verified facts and --repo matches the verified repository only', async () => {
    const b = await bundle({
      commit: signedRaw,
      token: token(),
      repository: 'https://github.com/acme/app',
    });
    const r = await verified(
      b,
      policy(
        { requireWorkflow: true, workflowRefs: ['acme/app/.github/workflows/*.yml@refs/tags/*'] },
        'https://github.com/acme/app',
      ),
    );
    expect(r.origin.workflow).toMatchObject({
      repository: 'acme/app',
      repository_id: '123456789',
      run_id: '8812345678',
      run_attempt: '1',
      runner_environment: 'self-hosted',
      event_name: 'push',
      ref: 'refs/tags/v1.0.0',
    });
    expect(r.origin.repository).toEqual({
      url: 'https://github.com/acme/app',
      basis: 'workflow-token',
    });
    await refused(b, policy({}, 'https://github.com/acme/other'), 'REPOSITORY_MISMATCH');
  });

  it("when a bundle labelled acme/app carries another repository's token, REPOSITORY_MISMATCH", async () => {
    const other = signToken(
      oidc.key,
      { ...oidc.job, repository: 'mallory/fork', sha: headId() },
      audienceFor(DEFAULT_NONCE),
      IAT,
    );
    await refused(
      await bundle({ commit: signedRaw, token: other, repository: 'https://github.com/acme/app' }),
      policy({}, 'https://github.com/acme/app'),
      'REPOSITORY_MISMATCH',
    );
  });

  it('when the signature is wrong, OIDC_SIGNATURE_INVALID; when the key is unknown, OIDC_KEY_UNKNOWN', async () => {
    const t = token();
    const [h, p] = t.split('.');
    const forged = `${h}.${p}.${signToken(makeStandinKey(), oidc.job, 'x', IAT).split('.')[2]}`;
    await refused(
      await bundle({ commit: signedRaw, token: forged }),
      policy(),
      'OIDC_SIGNATURE_INVALID',
    );
    await refused(await bundle({ commit: signedRaw, token: t }), policy(), 'OIDC_KEY_UNKNOWN', []);
  });

  it('when the issuer, audience (another build), or sha differ, the matching OIDC code', async () => {
    await refused(
      await bundle({ commit: signedRaw, token: token({ iss: 'https://evil.example' }) }),
      policy(),
      'OIDC_ISSUER_MISMATCH',
    );
    await refused(
      await bundle({ commit: signedRaw, token: token({}, undefined, 'ab'.repeat(16)) }),
      policy(),
      'OIDC_AUDIENCE_MISMATCH',
    );
    await refused(
      await bundle({ commit: signedRaw, token: token({ aud: 'sts.amazonaws.com' }) }),
      policy(),
      'OIDC_AUDIENCE_MISMATCH',
    );
    await refused(
      await bundle({ commit: signedRaw, token: token({}, 'f'.repeat(40)) }),
      policy(),
      'OIDC_SHA_MISMATCH',
    );
    await refused(
      await bundle({ commit: signedRaw, token: token({ iat: IAT + 3600, exp: IAT + 3900 }) }),
      policy(),
      'OIDC_TOKEN_INVALID',
    );
  });

  it('when a token is required and absent, WORKFLOW_REQUIRED; when its workflow differs, WORKFLOW_MISMATCH', async () => {
    await refused(
      await bundle({ commit: signedRaw }),
      policy({ requireWorkflow: true }),
      'WORKFLOW_REQUIRED',
    );
    await refused(
      await bundle({ commit: signedRaw, token: token() }),
      policy({ workflowRefs: ['acme/app/.github/workflows/other.yml@*'] }),
      'WORKFLOW_MISMATCH',
    );
  });
});

describe('coverage of the origin refusal codes', () => {
  it('when the tests above have run, every origin code has been made to happen', () => {
    const origin = [
      'SOURCE_UNSIGNED',
      'SOURCE_SIGNATURE_INVALID',
      'SOURCE_SIGNER_UNTRUSTED',
      'SOURCE_TAG_MISMATCH',
      'WORKFLOW_REQUIRED',
      'WORKFLOW_MISMATCH',
    ];
    expect(origin.filter((c) => !(VERIFY_ERROR_CODES as readonly string[]).includes(c))).toEqual(
      [],
    );
    const oidcCodes = [
      'OIDC_TOKEN_INVALID',
      'OIDC_SIGNATURE_INVALID',
      'OIDC_KEY_UNKNOWN',
      'OIDC_ISSUER_MISMATCH',
      'OIDC_AUDIENCE_MISMATCH',
      'OIDC_SHA_MISMATCH',
    ];
    expect([...origin, ...oidcCodes].filter((c) => !seen.has(c))).toEqual([]);
  });
});
