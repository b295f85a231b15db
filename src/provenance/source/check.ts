/**
 * The worker's check of a received source: the files must hash to the claimed tree, the raw
 * commit object to the claimed commit, and the commit must name that tree. Node only (reads files).
 */
import { computeCommitId, parseCommitObject } from './git-object.js';
import { provenanceError } from '../errors.js';
import { computeTreeId } from './tree-hash.js';
import type { TreeHashOptions } from './tree-hash.js';
import type { GitSource, SourceIdentity } from '../types.js';

/**
 * Recomputes the tree id of the files in `dir` and the commit id of `claim.commitObject` and
 * compares them with the claim. Returns the verified identity (never dirty). Throws
 * SOURCE_TREE_MISMATCH, SOURCE_COMMIT_MISMATCH or COMMIT_MALFORMED.
 */
export async function verifySourceTree(
  dir: string,
  claim: Pick<GitSource, 'commit' | 'tree' | 'objectFormat' | 'commitObject' | 'repository'>,
  opts: TreeHashOptions = {},
): Promise<SourceIdentity> {
  if (claim.commit !== null) {
    if (claim.commitObject === null) {
      throw provenanceError(
        'SOURCE_COMMIT_MISMATCH',
        `commit ${claim.commit} is claimed but no commit object was sent`,
      );
    }
    const id = computeCommitId(claim.commitObject, claim.objectFormat);
    if (id !== claim.commit) {
      throw provenanceError(
        'SOURCE_COMMIT_MISMATCH',
        `the commit object hashes to ${id}, not to the claimed commit ${claim.commit}`,
      );
    }
    const named = parseCommitObject(claim.commitObject).tree;
    if (named !== claim.tree) {
      throw provenanceError(
        'SOURCE_COMMIT_MISMATCH',
        `commit ${claim.commit} names tree ${named}, not the claimed tree ${claim.tree}`,
      );
    }
  }
  const tree = await computeTreeId(dir, claim.objectFormat, opts);
  if (tree !== claim.tree) {
    throw provenanceError(
      'SOURCE_TREE_MISMATCH',
      `the files hash to tree ${tree}, not to the claimed tree ${claim.tree}`,
    );
  }
  const identity: SourceIdentity = {
    commit: claim.commit,
    tree,
    objectFormat: claim.objectFormat,
    dirty: false,
  };
  if (claim.repository !== undefined) identity.repository = claim.repository;
  return identity;
}
