/**
 * Reads the annotated tag a build is of, with the real git: its raw object (what `git cat-file
 * tag` prints, what the worker hashes and the verifier re-checks). A lightweight tag has no
 * object, so nothing of it can be signed or recorded: it is refused with a hint. Node only.
 */
import { provenanceError } from '../errors.js';
import type { GitOptions } from './git.js';
import { git } from './git.js';
import { parseTagObject } from './git-tag.js';

/**
 * The raw object of annotated tag `name` in the repository holding `dir`, checked to name
 * `commit`. Throws SOURCE_TAG_INVALID.
 */
export async function readTagObject(
  dir: string,
  name: string,
  commit: string,
  opts: GitOptions = {},
): Promise<Uint8Array> {
  const ref = `refs/tags/${name}`;
  const type = await git(dir, ['cat-file', '-t', ref], { ...opts, allowFail: true });
  const kind = type.stdout.toString('utf8').trim();
  if (type.code !== 0)
    throw provenanceError('SOURCE_TAG_INVALID', `there is no tag ${name} in ${dir}`, 'tag');
  if (kind !== 'tag')
    throw provenanceError(
      'SOURCE_TAG_INVALID',
      `tag ${name} is a lightweight tag (it names a ${kind} directly, with no tag object to sign or record); make an annotated tag: git tag -a (or -s) ${name}`,
      'tag',
    );
  const raw = new Uint8Array((await git(dir, ['cat-file', 'tag', ref], opts)).stdout);
  const tag = parseTagObject(raw);
  if (tag.type !== 'commit' || tag.object !== commit)
    throw provenanceError(
      'SOURCE_TAG_INVALID',
      `tag ${name} names ${tag.type} ${tag.object}, not the commit being built (${commit}); check out the tag`,
      'tag',
    );
  return raw;
}
