/**
 * Attaching files to a release so that re-running a job never duplicates nor corrupts assets, and
 * immutable releases work: the release is found or created as a draft (published only when asked,
 * after every upload); an asset already there with the same bytes is kept; with other bytes it is
 * replaced on a draft and refused on a published release, before anything is changed.
 */
import type { RepoRef } from './context.js';
import { sha256Hex } from './digest.js';
import { ActionError } from './errors.js';
import type { GitHubApi, Release, ReleaseAsset } from './github.js';
import { GitHubError } from './github.js';
import { BUNDLE_SUFFIX } from './naming.js';

/** A file to attach. */
export interface ReleaseFile {
  name: string;
  bytes: Uint8Array;
  contentType: string;
  /** Artifacts are shared by every builder of the release; evidence is each builder's own. */
  kind: 'artifact' | 'evidence';
}

/** What happened to one file. */
export interface AssetOutcome {
  name: string;
  sha256: string;
  action: 'uploaded' | 'kept' | 'replaced' | 'left';
  /** Why an asset was left as it was. */
  note?: string;
}

export interface ReleaseResult {
  release: Release;
  created: boolean;
  published: boolean;
  assets: AssetOutcome[];
}

export interface PublishOptions {
  repo: RepoRef;
  tag: string;
  /** Commit the release (and a tag it creates) points at. */
  commit: string;
  files: ReleaseFile[];
  publish: boolean;
  /** Text of a release this creates. */
  body: string;
  warn: (message: string) => void;
}

async function digestOf(api: GitHubApi, repo: RepoRef, a: ReleaseAsset): Promise<string> {
  // GitHub's digest when it has one; older assets are downloaded and hashed.
  return a.sha256 ?? sha256Hex(await api.downloadAsset(repo, a.id));
}

/** Attaches `o.files` to the release of `o.tag` (see the module comment). */
export async function publishToRelease(api: GitHubApi, o: PublishOptions): Promise<ReleaseResult> {
  let release = await api.findRelease(o.repo, o.tag);
  let created = false;
  if (release === null) {
    const mine = await api.createDraftRelease(o.repo, {
      tag: o.tag,
      targetCommitish: o.commit,
      name: o.tag,
      body: o.body,
    });
    // Another builder may have created a draft at the same moment: all settle on the oldest.
    const settled = await api.findRelease(o.repo, o.tag);
    if (settled !== null && settled.id !== mine.id) {
      await api.deleteRelease(o.repo, mine.id);
      release = settled;
    } else {
      release = mine;
      created = true;
    }
  }
  const rel = release;
  let existing = await api.listAssets(o.repo, rel.id);
  const byName = (name: string): ReleaseAsset | undefined => existing.find((a) => a.name === name);
  const ownBundles = new Set(
    o.files.filter((f) => f.name.endsWith(BUNDLE_SUFFIX)).map((f) => f.name),
  );
  const otherBuilders = existing.some(
    (a) => a.name.endsWith(BUNDLE_SUFFIX) && !ownBundles.has(a.name),
  );

  // Plan first: on a published release nothing may change halfway.
  const plan: {
    file: ReleaseFile;
    digest: string;
    old: ReleaseAsset | undefined;
    oldDigest: string | null;
  }[] = [];
  for (const file of o.files) {
    const old = byName(file.name);
    const usable = old !== undefined && old.state === 'uploaded';
    plan.push({
      file,
      digest: sha256Hex(file.bytes),
      old,
      oldDigest: usable ? await digestOf(api, o.repo, old) : null,
    });
  }
  if (!rel.draft) {
    const differing = plan.filter((p) => p.oldDigest !== null && p.oldDigest !== p.digest);
    if (differing.length > 0)
      throw new ActionError(
        'RELEASE_CONFLICT',
        `release ${o.tag} is published and already has ${differing.map((p) => p.file.name).join(', ')} with other bytes; a published release is not rewritten (publish a new version, or delete the assets yourself if this is intended)`,
      );
    const adding = plan.filter((p) => p.oldDigest === null);
    if (rel.immutable && adding.length > 0)
      throw new ActionError(
        'RELEASE_CONFLICT',
        `release ${o.tag} is published and immutable: ${adding.map((p) => p.file.name).join(', ')} cannot be added; let the action create the release as a draft and publish it after uploading (publish: true)`,
      );
  }

  const assets: AssetOutcome[] = [];
  for (const p of plan) {
    const { file, digest } = p;
    if (p.oldDigest === digest) {
      assets.push({ name: file.name, sha256: digest, action: 'kept' });
      continue;
    }
    if (p.oldDigest !== null && file.kind === 'artifact' && otherBuilders) {
      // Another builder attached different bytes under this name: the builders disagree. Which
      // bytes are right is for the k-of-n verification of the bundles (verify mode) to decide.
      const note = `another builder attached ${file.name} with other bytes (sha256 ${p.oldDigest}); left as it is for the consensus verification to decide`;
      o.warn(note);
      assets.push({ name: file.name, sha256: digest, action: 'left', note });
      continue;
    }
    if (p.old !== undefined) await api.deleteAsset(o.repo, p.old.id);
    try {
      await api.uploadAsset(rel, file.name, file.bytes, file.contentType);
    } catch (e) {
      if (!(e instanceof GitHubError && e.errorCodes.includes('already_exists'))) throw e;
      // Someone (a concurrent builder) uploaded this name meanwhile: same bytes are fine.
      existing = await api.listAssets(o.repo, rel.id);
      const now = byName(file.name);
      if (now === undefined || (await digestOf(api, o.repo, now)) !== digest) throw e;
    }
    assets.push({
      name: file.name,
      sha256: digest,
      action: p.old === undefined ? 'uploaded' : 'replaced',
    });
  }

  let published = !rel.draft;
  let final = rel;
  if (o.publish && rel.draft) {
    final = await api.publishRelease(o.repo, rel.id);
    published = true;
  }
  return { release: final, created, published, assets };
}
