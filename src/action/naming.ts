/**
 * Names of what the action publishes. On a release, for repository `hello`, tag `v1.2.0` and
 * builder `alpha`:
 *
 *   rust-hello                                  each artifact, under its file name (the path with
 *                                               `/` as `_` when two artifacts share a file name)
 *   hello-v1.2.0.alpha.bundle.tar.gz            the bundle: one file that verifies every artifact
 *   hello-v1.2.0.alpha.provenance.json          the provenance statement, alone
 *   hello-v1.2.0.alpha.attestation.cbor         the Nitro attestation over it, alone
 *
 * The builder is the name the trust policy gives its PCR3, else `pcr3-` and the first 12 hex
 * digits of PCR3, so several builders can attach their evidence to one release. As a workflow
 * artifact, the bundle is `tee-compile-<builder>` holding `<repo>-<short commit>.<builder>.bundle.tar.gz`.
 * Verify mode's signed verdict is `hello-v1.2.0.vsa.dsse.json` on the release, or the workflow
 * artifact `tee-compile.vsa` holding `<repo>-<short commit>.vsa.dsse.json`.
 */
import type { BundleVerified } from '../verify/index.js';

export const BUNDLE_SUFFIX = '.bundle.tar.gz';
export const PROVENANCE_SUFFIX = '.provenance.json';
export const ATTESTATION_SUFFIX = '.attestation.cbor';
/** The signed verification summary (VSA) of verify mode. */
export const VSA_SUFFIX = '.vsa.dsse.json';
/** The workflow artifact holding it (outside `tee-compile-*`, the bundles' names). */
export const VSA_ARTIFACT_NAME = 'tee-compile.vsa';
/** Prefix of the workflow artifacts holding bundles. */
export const WORKFLOW_ARTIFACT_PREFIX = 'tee-compile-';
/** Longest builder name kept in file names. */
const MAX_BUILDER_SLUG = 40;

/**
 * A name GitHub stores unchanged: letters, digits, `.`, `_`, `+`, `-` (GitHub rewrites other
 * characters and leading or trailing dots in asset names).
 */
export function safeAssetName(s: string): string {
  const t = s.replace(/[^A-Za-z0-9._+-]/g, '-').replace(/^[.]+|[.]+$/g, '');
  return t === '' ? 'asset' : t;
}

/** The builder's name in file names (see the module comment). */
export function builderSlug(v: Pick<BundleVerified, 'builder'>): string {
  const named =
    v.builder.name === null ? '' : safeAssetName(v.builder.name).slice(0, MAX_BUILDER_SLUG);
  return named !== '' && named !== 'asset' ? named : `pcr3-${v.builder.pcr3.slice(0, 12)}`;
}

/** `<repo>-<tag>.<builder>`: the common part of a builder's evidence on a release. */
export function releaseEvidencePrefix(repo: string, tag: string, builder: string): string {
  return safeAssetName(`${repo}-${tag}.${builder}`);
}

/** `<repo>-<short commit>.<builder>`: the bundle's name in a workflow artifact. */
export function artifactEvidencePrefix(repo: string, commit: string, builder: string): string {
  return safeAssetName(`${repo}-${commit.slice(0, 12)}.${builder}`);
}

/** The workflow artifact of a builder's bundle. */
export function workflowArtifactName(builder: string): string {
  return `${WORKFLOW_ARTIFACT_PREFIX}${builder}`;
}

/**
 * The asset name of each artifact (subject name -> asset name): its file name, or its whole path
 * with `/` as `_` when file names collide.
 */
export function artifactAssetNames(subjects: readonly string[]): Map<string, string> {
  const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  const counts = new Map<string, number>();
  for (const s of subjects) counts.set(base(s), (counts.get(base(s)) ?? 0) + 1);
  const out = new Map<string, string>();
  for (const s of subjects)
    out.set(s, safeAssetName(counts.get(base(s)) === 1 ? base(s) : s.replace(/\//g, '_')));
  return out;
}

/** True when an asset name is evidence (bundle, provenance, attestation, VSA) rather than an artifact. */
export function isEvidenceName(name: string): boolean {
  return (
    name.endsWith(BUNDLE_SUFFIX) ||
    name.endsWith(PROVENANCE_SUFFIX) ||
    name.endsWith(ATTESTATION_SUFFIX) ||
    name.endsWith(VSA_SUFFIX)
  );
}
