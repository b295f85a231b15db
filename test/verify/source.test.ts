import { describe, expect, it } from '@jest/globals';
import { isFullCommit, sameCommit, sameRepository } from '../../src/verify/source.js';

describe('repository and commit matching', () => {
  // The forms a repository is written in: test/provenance/repository-url.test.ts.
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
