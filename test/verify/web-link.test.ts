import { VERIFY_PAGE_URL, releaseAssetUrl, verifyPageLink } from '../../src/verify/index.js';

describe('verifyPageLink', () => {
  it('when given bundles, a policy, a nonce and a commit, it puts each in the query', () => {
    const url = new URL(
      verifyPageLink({
        bundles: ['https://example.org/a b.tar.gz', 'https://example.org/c.tar.gz?x=1&y=2'],
        policy: 'https://example.org/policy.json',
        nonce: 'ab01',
        commit: 'f'.repeat(40),
      }),
    );
    expect(url.origin + url.pathname).toBe(VERIFY_PAGE_URL);
    expect(url.searchParams.getAll('bundle')).toEqual([
      'https://example.org/a b.tar.gz',
      'https://example.org/c.tar.gz?x=1&y=2',
    ]);
    expect(url.searchParams.get('policy')).toBe('https://example.org/policy.json');
    expect(url.searchParams.get('nonce')).toBe('ab01');
    expect(url.searchParams.get('commit')).toBe('f'.repeat(40));
  });

  it('when given nothing, it is the page itself; another base is kept', () => {
    expect(verifyPageLink({})).toBe(VERIFY_PAGE_URL);
    expect(verifyPageLink({ commit: null, nonce: 'aa' }, 'https://x.test/v/?lang=en')).toBe(
      'https://x.test/v/?lang=en&nonce=aa',
    );
  });

  it('when naming a release asset, tag and name are encoded', () => {
    expect(releaseAssetUrl('https://github.com', { owner: 'o', repo: 'r' }, 'v1.0+b', 'a b')).toBe(
      'https://github.com/o/r/releases/download/v1.0%2Bb/a%20b',
    );
  });
});
