import { describe, expect, it } from '@jest/globals';
import {
  computeCommitId,
  parseCommitObject,
  parseTagObject,
  sourceDateEpoch,
} from '../../src/provenance/index.js';
import { git, gitBytes, makeRepo } from '../support/source/provenance-git.js';

const te = new TextEncoder();

describe('computeCommitId and parseCommitObject', () => {
  it.each(['sha1', 'sha256'] as const)(
    'when given the raw commit object of a real %s repository, it computes git’s commit id and parses the fields',
    (format) => {
      const dir = makeRepo({ 'a.txt': 'a' }, { objectFormat: format });
      git(dir, ['commit', '-q', '--allow-empty', '-m', 'second\n\nbody line']);
      const id = git(dir, ['rev-parse', 'HEAD']);
      const raw = gitBytes(dir, ['cat-file', 'commit', id]);
      expect(computeCommitId(raw, format)).toBe(id);
      const c = parseCommitObject(raw);
      expect(c.objectFormat).toBe(format);
      expect(c.tree).toBe(git(dir, ['rev-parse', 'HEAD^{tree}']));
      expect(c.parents).toEqual([git(dir, ['rev-parse', 'HEAD~1'])]);
      expect(c.author).toEqual({
        name: 'Test Author',
        email: 'author@example.com',
        time: 1704161045,
        timezone: '+0100',
      });
      expect(c.committer.name).toBe('Test Committer');
      expect(c.message).toBe('second\n\nbody line\n');
      expect(sourceDateEpoch(raw)).toBe(1704161045);
    },
  );

  it('when the commit has extra headers with continuation lines (a signature), it keeps them in order', () => {
    const raw = te.encode(
      'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' +
        'author A <a@x> 1 +0000\ncommitter C <c@x> 2 -0130\n' +
        'encoding ISO-8859-1\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\n\nmsg\n',
    );
    const c = parseCommitObject(raw);
    expect(c.parents).toEqual([]);
    expect(c.committer).toEqual({ name: 'C', email: 'c@x', time: 2, timezone: '-0130' });
    expect(c.extraHeaders).toEqual([
      { key: 'encoding', value: 'ISO-8859-1' },
      { key: 'gpgsig', value: '-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----' },
    ]);
  });

  const tree = 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n';
  const people = 'author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n';
  it.each([
    ['no blank line', `${tree}${people}msg`],
    ['tree not first', `${people}${tree}\nmsg`],
    ['a short tree id', 'tree 4b825dc6\n' + people + '\nm'],
    ['an upper-case tree id', tree.toUpperCase().replace('TREE', 'tree') + people + '\nm'],
    ['a parent of another format', `${tree}parent ${'a'.repeat(64)}\n${people}\nm`],
    ['no committer', `${tree}author A <a@x> 1 +0000\n\nm`],
    ['a bad identity', `${tree}author A a@x 1 +0000\ncommitter C <c@x> 2 +0000\n\nm`],
    ['a bad time zone', `${tree}author A <a@x> 1 0000\ncommitter C <c@x> 2 +0000\n\nm`],
    ['a duplicate tree', `${tree}${people}${tree}\nm`],
    ['a continuation first', ` x\n${tree}${people}\nm`],
    ['a NUL in the headers', `${tree}${people.replace('A', 'A\0')}\nm`],
  ])('when the commit object has %s, it refuses it with COMMIT_MALFORMED', (_what, text) => {
    expect(() => parseCommitObject(te.encode(text))).toThrowWithCode('COMMIT_MALFORMED');
  });

  it('when the commit object is absurdly large, it refuses it before parsing', () => {
    expect(() => parseCommitObject(new Uint8Array(2 * 1024 * 1024))).toThrowWithCode(
      'COMMIT_MALFORMED',
    );
  });
});

describe('parseTagObject refusals', () => {
  it.each([
    ['not UTF-8', new Uint8Array([0x6f, 0xff, 0x0a])],
    ['no header', new TextEncoder().encode('just a message\n')],
    [
      'an object id that is not hex',
      new TextEncoder().encode('object xyz\ntype commit\ntag v1\n\nm\n'),
    ],
  ])('when the raw tag is %s, it refuses with TAG_MALFORMED', (_what, raw) => {
    expect(() => parseTagObject(raw)).toThrowWithCode('TAG_MALFORMED');
  });
});
