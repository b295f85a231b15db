/**
 * The worker's check of where the source comes from (see src/provenance/source/origin.ts for what is
 * recorded): the commit's signature is read with the key it names; a tag object sent with the
 * build must parse, name the built commit and carry the claimed name, and its signature is read
 * the same way; the workflow's OIDC token must name this build (src/oidc/). Nothing here is
 * trusted from the host; signatures are recorded, not required: the verifier decides against
 * the trust its user names.
 */
import type { ResourceDescriptor } from '../provenance/index.js';
import { computeTagId, originDescriptors, parseTagObject } from '../provenance/index.js';
import type { OriginParams } from '../provenance/index.js';
import { fromBase64 } from '../util/encoding.js';
import type { BuildRequest } from '../protocol/index.js';
import { WorkerError } from '../protocol/index.js';
import type { PgpKey } from '../signature/index.js';
import {
  inspectSignature,
  isSignatureError,
  readPgpKey,
  splitCommitSignature,
  splitTagSignature,
} from '../signature/index.js';
import { checkTokenClaims, isOidcError } from '../oidc/index.js';

async function pgpKeys(armored: readonly string[]): Promise<PgpKey[]> {
  const out: PgpKey[] = [];
  for (const [i, text] of armored.entries()) {
    try {
      out.push(await readPgpKey(text, `origin.pgpKeys.${i}`));
    } catch (e) {
      if (!isSignatureError(e)) throw e;
      throw new WorkerError('CONFIG_INVALID', e.message, { path: `origin.pgpKeys.${i}`, cause: e });
    }
  }
  return out;
}

function tagMismatch(message: string, cause?: unknown): WorkerError {
  return new WorkerError('SOURCE_TAG_MISMATCH', message, {
    path: 'origin.tag',
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** The checked origin of a build. */
export interface CheckedOrigin {
  /**
   * The byproduct descriptors for provenance.json. The signatures are read on the first call
   * (they refuse nothing: they are recorded); the build calls it once its command runs, so that
   * loading OpenPGP.js and checking a signature take the time the build leaves.
   */
  descriptors(): Promise<ResourceDescriptor[]>;
}

/**
 * Checks the origin of a build: what can refuse it is checked here, before the source arrives.
 * `commitRaw` is the commit object already checked against the claimed commit. Throws
 * SOURCE_TAG_MISMATCH, OIDC_TOKEN_INVALID or CONFIG_INVALID (an unreadable OpenPGP key).
 */
export async function checkOrigin(
  request: BuildRequest,
  commitRaw: Uint8Array | null,
): Promise<CheckedOrigin> {
  const o = request.origin ?? {};
  const claim = request.source;
  const keys = await pgpKeys(o.pgpKeys ?? []);
  const params: OriginParams = {};
  if (keys.length > 0) params.pgpKeys = keys.map((k) => k.fingerprint);
  let tag: { raw: Uint8Array; name: string } | undefined;
  if (o.tag !== undefined) {
    if (claim.commit === null) throw tagMismatch('a tag was sent for a source without a commit');
    const raw = fromBase64(o.tag.object);
    if (raw === null) throw tagMismatch('the tag object is not standard base64');
    let parsed;
    try {
      parsed = parseTagObject(raw);
    } catch (e) {
      throw tagMismatch(`the tag object is malformed: ${(e as Error).message}`, e);
    }
    if (parsed.type !== 'commit' || parsed.object !== claim.commit)
      throw tagMismatch(
        `tag ${parsed.tag} names ${parsed.type} ${parsed.object}, not the built commit ${claim.commit}`,
      );
    if (parsed.tag !== o.tag.name)
      throw tagMismatch(`the tag object is named ${parsed.tag}, not ${o.tag.name}`);
    tag = { raw, name: parsed.tag };
  }
  if (o.oidcToken !== undefined) {
    if (claim.commit === null)
      throw new WorkerError(
        'OIDC_TOKEN_INVALID',
        'a workflow token was sent for a source without a commit',
        {
          path: 'origin.oidcToken',
        },
      );
    try {
      const claims = checkTokenClaims(o.oidcToken, { sha: claim.commit, nonce: request.nonce });
      params.oidcToken = { token: o.oidcToken, claims };
    } catch (e) {
      if (!isOidcError(e)) throw e;
      throw new WorkerError(
        'OIDC_TOKEN_INVALID',
        `the workflow's token does not name this build (${e.code}): ${e.message}`,
        {
          path: 'origin.oidcToken',
          cause: e,
        },
      );
    }
  }
  const read = async (): Promise<ResourceDescriptor[]> => {
    if (commitRaw !== null && claim.commit !== null) {
      const signature = await inspectSignature(
        splitCommitSignature(commitRaw, claim.objectFormat),
        keys,
      );
      params.commit = { raw: commitRaw, id: claim.commit, signature };
    }
    if (tag !== undefined && claim.commit !== null) {
      const signature = await inspectSignature(splitTagSignature(tag.raw), keys);
      params.tag = {
        raw: tag.raw,
        id: computeTagId(tag.raw, claim.objectFormat),
        name: tag.name,
        signature,
      };
    }
    return originDescriptors(params);
  };
  let descriptors: Promise<ResourceDescriptor[]> | undefined;
  return { descriptors: () => (descriptors ??= read()) };
}
