/**
 * The verifier's check of where the source comes from, from the raw objects provenance.json
 * carries (src/provenance/source/origin.ts): commit and tag signatures re-verified against the trust
 * the consumer names (the worker's own reading is informational), at the commit's or tag's own
 * time; the tag asked for; the workflow token's RS256 signature against the pinned and given
 * JWKS and its binding to this build (sha, nonce). Pure (browser-capable).
 */
import type { OidcError } from '../oidc/index.js';
import {
  GITHUB_ACTIONS_ISSUER,
  GITHUB_ACTIONS_JWKS,
  isOidcError,
  verifyWorkflowToken,
} from '../oidc/index.js';
import type { ProvenanceStatement } from '../provenance/index.js';
import { parseCommitObject, parseTagObject, readOrigin } from '../provenance/index.js';
import type { SignatureVerdict, SignedObject, SignerTrust } from '../signature/index.js';
import {
  describeKey,
  isSignatureError,
  judgeSignature,
  readPgpKey,
  splitCommitSignature,
  splitTagSignature,
} from '../signature/index.js';
import { VerifyError } from './errors.js';
import type { OriginFacts, SignatureFacts } from './origin-types.js';
import { sameRepository } from './source.js';
import type { TrustPolicy, VerifyOptions } from './types.js';

const ORIGIN_PATH = 'predicate.runDetails.byproducts';

function facts(v: SignatureVerdict): SignatureFacts | null {
  if (v.status === 'unsigned') return null;
  const out: SignatureFacts = {
    status: v.status,
    format: v.record.format,
    key: describeKey(v.record),
  };
  if (v.status === 'trusted') out.signer = v.signer;
  else out.reason = v.reason;
  return out;
}

async function trustOf(policy: TrustPolicy): Promise<SignerTrust> {
  const s = policy.source?.signers;
  const pgpKeys = [];
  for (const [i, armored] of (s?.pgp ?? []).entries()) {
    try {
      pgpKeys.push(await readPgpKey(armored, `source.signers.pgp.${i}`));
    } catch (e) {
      if (!isSignatureError(e)) throw e;
      throw new VerifyError('POLICY_INVALID', e.message, {
        path: `source.signers.pgp.${i}`,
        cause: e,
      });
    }
  }
  return { allowedSigners: s?.ssh ?? [], pgpKeys };
}

function refuse(what: 'commit' | 'tag', v: SignatureVerdict): never {
  const path = `${ORIGIN_PATH}.${what === 'commit' ? 'source/commit' : 'source/tag'}`;
  if (v.status === 'unsigned')
    throw new VerifyError(
      'SOURCE_UNSIGNED',
      `the policy requires a signed ${what} and the ${what} is not signed`,
      { path },
    );
  if (v.status === 'invalid')
    throw new VerifyError(
      'SOURCE_SIGNATURE_INVALID',
      `the ${what}'s signature does not verify: ${v.reason}`,
      { path },
    );
  if (v.status === 'untrusted')
    throw new VerifyError(
      'SOURCE_SIGNER_UNTRUSTED',
      `the ${what}'s signer is not trusted: ${v.reason}`,
      { path },
    );
  throw new Error('unreachable');
}

/** `*` matches any run of characters; everything else literally. */
function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  return re.test(s);
}

/** The repository URL a token's `repository` claim names, on its issuer's host. */
export function tokenRepositoryUrl(issuer: string, repository: string): string {
  if (issuer === GITHUB_ACTIONS_ISSUER) return `https://github.com/${repository}`;
  // GitHub Enterprise Server: https://HOST/_services/token
  return `${new URL(issuer).origin}/${repository}`;
}

function oidcRefusal(e: OidcError): VerifyError {
  return new VerifyError(e.code, `workflow token: ${e.message}`, {
    path: e.path ?? 'oidcToken',
    cause: e,
  });
}

/**
 * Checks the origin of a verified statement against the policy; returns the facts for the
 * report. `attestedAtMs` is the attestation's timestamp.
 */
export async function checkOrigin(
  st: ProvenanceStatement,
  policy: TrustPolicy,
  opts: Pick<VerifyOptions, 'oidcKeys'>,
  attestedAtMs: number,
): Promise<OriginFacts> {
  const recorded = readOrigin(st); // checked by parseStatement already: ids match the bytes
  const src = st.predicate.buildDefinition.externalParameters;
  const want = policy.source ?? {};
  const named = (want.signers?.ssh.length ?? 0) + (want.signers?.pgp.length ?? 0) > 0;
  const requireSigned = want.requireSigned ?? (named ? 'commit' : 'none');
  const trust = await trustOf(policy);
  const out: OriginFacts = {
    commit: null,
    tag: null,
    workflow: null,
    repository: { url: src.source.repository, basis: 'label' },
  };

  const judge = async (signed: SignedObject, time: number): Promise<SignatureVerdict> =>
    judgeSignature(signed, trust, time).catch((e: unknown) => {
      if (!isSignatureError(e)) throw e;
      return {
        status: 'invalid',
        record: { format: 'unknown', keyFingerprint: null, verified: false },
        reason: e.message,
      } as const;
    });

  if (recorded.commit !== null) {
    const commit = parseCommitObject(recorded.commit.raw);
    const v = await judge(
      splitCommitSignature(recorded.commit.raw, commit.objectFormat),
      commit.committer.time,
    );
    out.commit = { id: recorded.commit.id, signature: facts(v) };
    if (requireSigned === 'commit' && v.status !== 'trusted') refuse('commit', v);
  } else if (requireSigned === 'commit') {
    throw new VerifyError(
      'SOURCE_UNSIGNED',
      'the policy requires a signed commit and the bundle records no commit object',
      {
        path: ORIGIN_PATH,
      },
    );
  }

  if (recorded.tag !== null) {
    const tag = parseTagObject(recorded.tag.raw);
    const time =
      tag.tagger?.time ??
      (recorded.commit ? parseCommitObject(recorded.commit.raw).committer.time : 0);
    const v = await judge(splitTagSignature(recorded.tag.raw), time);
    out.tag = { name: recorded.tag.name, id: recorded.tag.id, signature: facts(v) };
    if (requireSigned === 'tag' && v.status !== 'trusted') refuse('tag', v);
  }
  if (want.tag !== undefined && recorded.tag?.name !== want.tag)
    throw new VerifyError(
      'SOURCE_TAG_MISMATCH',
      recorded.tag === null
        ? `the bundle is not a build of a tag (tag ${want.tag} was asked for)`
        : `the bundle is a build of tag ${recorded.tag.name}, not ${want.tag}`,
      { path: ORIGIN_PATH },
    );
  if (requireSigned === 'tag' && recorded.tag === null)
    throw new VerifyError(
      'SOURCE_UNSIGNED',
      'the policy requires a signed tag and the bundle is not a build of a tag',
      {
        path: ORIGIN_PATH,
      },
    );

  if (recorded.oidcToken !== null) {
    let verified;
    try {
      verified = await verifyWorkflowToken(
        recorded.oidcToken,
        [...GITHUB_ACTIONS_JWKS.keys, ...(opts.oidcKeys ?? [])],
        {
          sha: src.source.gitCommit ?? '',
          nonce: st.predicate.buildDefinition.internalParameters.nonce,
          attestedAtMs,
        },
      );
    } catch (e) {
      if (!isOidcError(e)) throw e;
      throw oidcRefusal(e);
    }
    const c = verified.claims;
    const get = (k: keyof typeof c): string | null => (typeof c[k] === 'string' ? c[k] : null);
    out.workflow = {
      issuer: c.iss,
      kid: verified.kid,
      repository: get('repository'),
      repository_id: get('repository_id'),
      ref: get('ref'),
      workflow_ref: get('workflow_ref'),
      run_id: get('run_id'),
      run_attempt: get('run_attempt'),
      runner_environment: get('runner_environment'),
      event_name: get('event_name'),
      issuedAt: new Date(c.iat * 1000).toISOString(),
    };
    if (c.repository !== undefined) {
      const url = tokenRepositoryUrl(c.iss, c.repository);
      const label = src.source.repository;
      if (label !== null && !sameRepository(label, url))
        throw new VerifyError(
          'REPOSITORY_MISMATCH',
          `the provenance labels the source ${label}, but its verified workflow token was issued to ${url}`,
          { path: 'predicate.buildDefinition.externalParameters.source.repository' },
        );
      out.repository = { url, basis: 'workflow-token' };
    }
  } else if (want.requireWorkflow === true || (want.workflowRefs?.length ?? 0) > 0) {
    throw new VerifyError(
      'WORKFLOW_REQUIRED',
      'the policy requires a workflow token (GitHub OIDC) and the bundle has none',
      {
        path: ORIGIN_PATH,
      },
    );
  }
  const refs = want.workflowRefs ?? [];
  if (
    refs.length > 0 &&
    !refs.some((p) => out.workflow?.workflow_ref != null && globMatch(p, out.workflow.workflow_ref))
  )
    throw new VerifyError(
      'WORKFLOW_MISMATCH',
      `the workflow ${out.workflow?.workflow_ref ?? '(none)'} matches none of ${refs.join(', ')}`,
      { path: 'oidcToken.workflow_ref' },
    );
  return out;
}
