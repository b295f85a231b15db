import { describe, expect, it } from '@jest/globals';
import {
  isFullCommit,
  normaliseRepository,
  sameCommit,
  sameRepository,
} from '../../src/verify/source.js';

describe('repository and commit matching', () => {
  it.each([
    ['https://github.com/Owner/Repo', 'https://github.com/Owner/Repo'],
    ['https://github.com/Owner/Repo.git', 'https://github.com/Owner/Repo'],
    ['https://GitHub.com/Owner/Repo/', 'https://github.com/Owner/Repo'],
    ['git@github.com:Owner/Repo.git', 'https://github.com/Owner/Repo'],
    ['ssh://git@github.com/Owner/Repo.git', 'https://github.com/Owner/Repo'],
    ['github.com/Owner/Repo', 'https://github.com/Owner/Repo'],
    ['Owner/Repo', 'https://github.com/Owner/Repo'],
    ['https://gitlab.example.org/group/sub/proj', 'https://gitlab.example.org/group/sub/proj'],
  ])('when the repository is written %s, it normalises to %s', (input, want) => {
    expect(normaliseRepository(input)).toBe(want);
  });

  it.each([
    '',
    'nope',
    'https://github.com/',
    'https://github.com/owner',
    'https://github.com/a/../b',
    'file:///etc/x/y',
  ])('when the repository is %j, it is not a repository', (input) => {
    expect(normaliseRepository(input)).toBeNull();
  });

  it('when two spellings name the same repository, they match case-insensitively; others do not', () => {
    expect(sameRepository('git@github.com:owner/repo.git', 'https://github.com/Owner/Repo')).toBe(
      true,
    );
    expect(sameRepository('https://github.com/owner/repo2', 'https://github.com/owner/repo')).toBe(
      false,
    );
    expect(sameRepository('https://gitlab.com/owner/repo', 'https://github.com/owner/repo')).toBe(
      false,
    );
  });

  it('when a commit id is abbreviated, it is not accepted; full ids compare case-insensitively', () => {
    expect(isFullCommit('a'.repeat(40))).toBe(true);
    expect(isFullCommit('a'.repeat(64))).toBe(true);
    expect(isFullCommit('a'.repeat(7))).toBe(false);
    expect(isFullCommit('a'.repeat(41))).toBe(false);
    expect(sameCommit('A'.repeat(40), 'a'.repeat(40))).toBe(true);
  });
});
