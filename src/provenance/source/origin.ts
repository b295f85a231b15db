/**
 * Where the source comes from, as the worker records it inside provenance.json (so that the
 * attestation's user_data covers it): the raw commit object it hashed, the raw annotated tag
 * object when the build is of a tag, and the workflow's OIDC token, each a SLSA byproduct
 * ResourceDescriptor with its bytes in `content` (base64) and its id in `digest` (`gitCommit`,
 * `gitTag`: the git object ids recomputed from those bytes; `sha256` for the token). The worker's
 * reading of each signature is in `annotations.signature`. Pure.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { fromBase64, toBase64, toHex } from '../../util/encoding.js';
import { provenanceError } from '../errors.js';
import { MAX_COMMIT_OBJECT_BYTES, computeCommitId } from './git-object.js';
import { MAX_TAG_OBJECT_BYTES, computeTagId, parseTagObject } from './git-tag.js';
import type { ProvenanceStatement, ResourceDescriptor } from '../types.js';

export const ORIGIN_COMMIT = 'source/commit';
export const ORIGIN_TAG = 'source/tag';
export const ORIGIN_OIDC_TOKEN = 'source/oidc-token';
/** A GitHub Actions ID token is about 1.5 KB; anything near this is not one. */
export const MAX_OIDC_TOKEN_BYTES = 16 * 1024;

/** What the worker records about the source's origin. */
export interface OriginParams {
  commit?: { raw: Uint8Array; id: string; signature: object | null };
  tag?: { raw: Uint8Array; id: string; name: string; signature: object | null };
  oidcToken?: { token: string; claims: Record<string, unknown> };
  /** OpenPGP keys the client gave the worker (fingerprints), recorded as given. */
  pgpKeys?: string[];
}

/** The origin as byproduct descriptors, in a fixed order (commit, tag, token). */
export function originDescriptors(o: OriginParams): ResourceDescriptor[] {
  const out: ResourceDescriptor[] = [];
  const given = o.pgpKeys !== undefined && o.pgpKeys.length > 0 ? { pgpKeysGiven: o.pgpKeys } : {};
  if (o.commit !== undefined)
    out.push({
      name: ORIGIN_COMMIT,
      digest: { gitCommit: o.commit.id },
      content: toBase64(o.commit.raw),
      annotations: { signature: o.commit.signature, ...given },
    });
  if (o.tag !== undefined)
    out.push({
      name: ORIGIN_TAG,
      digest: { gitTag: o.tag.id },
      content: toBase64(o.tag.raw),
      annotations: { tag: o.tag.name, signature: o.tag.signature, ...given },
    });
  if (o.oidcToken !== undefined) {
    const bytes = new TextEncoder().encode(o.oidcToken.token);
    out.push({
      name: ORIGIN_OIDC_TOKEN,
      digest: { sha256: toHex(sha256(bytes)) },
      content: toBase64(bytes),
      annotations: { claims: o.oidcToken.claims },
    });
  }
  return out;
}

/** The origin read back from a statement, its ids checked against its bytes. */
export interface RecordedOrigin {
  commit: { raw: Uint8Array; id: string; signature: unknown } | null;
  tag: { raw: Uint8Array; id: string; name: string; signature: unknown } | null;
  oidcToken: string | null;
}

const PATH = 'predicate.runDetails.byproducts';

function invalid(message: string, i: number): never {
  throw provenanceError(
    'ORIGIN_INVALID',
    `provenance.json: ${PATH}.${i}: ${message}`,
    `${PATH}.${i}`,
  );
}

function content(d: ResourceDescriptor, i: number, max: number): Uint8Array {
  if (d.content === undefined) invalid('content missing', i);
  if (d.content.length > Math.ceil(max / 3) * 4) invalid(`content larger than ${max} bytes`, i);
  const b = fromBase64(d.content);
  if (b === null) invalid('content is not standard base64', i);
  return b;
}

function onlyDigest(d: ResourceDescriptor, key: string, i: number): string {
  const keys = Object.keys(d.digest ?? {});
  if (keys.length !== 1 || keys[0] !== key) invalid(`digest must be {"${key}": …}`, i);
  return d.digest![key]!;
}

/**
 * Reads and checks the origin byproducts of a statement: each at most once; the commit object
 * hashes to its `gitCommit`, which is the statement's source commit; the tag object hashes to its
 * `gitTag`, names the source commit and carries the recorded tag name; the token's bytes hash to
 * its `sha256`. Throws ORIGIN_INVALID.
 */
export function readOrigin(st: ProvenanceStatement): RecordedOrigin {
  const src = st.predicate.buildDefinition.externalParameters.source;
  const out: RecordedOrigin = { commit: null, tag: null, oidcToken: null };
  const seen = new Set<string>();
  (st.predicate.runDetails.byproducts ?? []).forEach((d, i) => {
    if (d.name !== ORIGIN_COMMIT && d.name !== ORIGIN_TAG && d.name !== ORIGIN_OIDC_TOKEN) {
      if (d.content !== undefined) invalid('content on a byproduct that is not a source origin', i);
      return;
    }
    if (seen.has(d.name)) invalid(`${d.name} recorded twice`, i);
    seen.add(d.name);
    const ann = d.annotations ?? {};
    if (d.name === ORIGIN_COMMIT) {
      const raw = content(d, i, MAX_COMMIT_OBJECT_BYTES);
      const id = onlyDigest(d, 'gitCommit', i);
      if (src.gitCommit === null || id !== src.gitCommit)
        invalid('gitCommit is not the source commit', i);
      if (computeCommitId(raw, src.objectFormat) !== id)
        invalid('the commit object does not hash to gitCommit', i);
      out.commit = { raw, id, signature: ann.signature ?? null };
    } else if (d.name === ORIGIN_TAG) {
      const raw = content(d, i, MAX_TAG_OBJECT_BYTES);
      const id = onlyDigest(d, 'gitTag', i);
      if (computeTagId(raw, src.objectFormat) !== id)
        invalid('the tag object does not hash to gitTag', i);
      let tag;
      try {
        tag = parseTagObject(raw);
      } catch (e) {
        invalid(`the tag object is malformed: ${(e as Error).message}`, i);
      }
      if (tag.type !== 'commit' || tag.object !== src.gitCommit)
        invalid('the tag object does not name the source commit', i);
      if (ann.tag !== tag.tag) invalid('annotations.tag is not the name in the tag object', i);
      out.tag = { raw, id, name: tag.tag, signature: ann.signature ?? null };
    } else {
      const raw = content(d, i, MAX_OIDC_TOKEN_BYTES);
      if (onlyDigest(d, 'sha256', i) !== toHex(sha256(raw)))
        invalid('the token does not hash to its sha256', i);
      const token = new TextDecoder().decode(raw);
      if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token))
        invalid('the token is not a compact JWS', i);
      out.oidcToken = token;
    }
  });
  return out;
}
