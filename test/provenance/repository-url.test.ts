import { describe, expect, it } from '@jest/globals';
import type { RepositoryUrlErrorCode } from '../../src/provenance/index.js';
import {
  REPOSITORY_URL_ERROR_CODES,
  normalizeRepositoryUrl,
  parseRepositoryUrl,
} from '../../src/provenance/index.js';
import { sameRepository } from '../../src/verify/index.js';

describe('parseRepositoryUrl: every form users write, one normal form', () => {
  it.each([
    // https, with and without port: the default port dropped, others kept
    ['https://github.com/owner/repo', 'https://github.com/owner/repo'],
    ['https://github.com:443/owner/repo', 'https://github.com/owner/repo'],
    ['https://git.example.com:8443/o/r.git', 'https://git.example.com:8443/o/r'],
    ['https://git.example.com:80/o/r', 'https://git.example.com:80/o/r'],
    // http: read as its https address; port 80 is http's default
    ['http://git.example.com/o/r', 'https://git.example.com/o/r'],
    ['http://git.example.com:80/o/r', 'https://git.example.com/o/r'],
    ['http://127.0.0.1:8080/o/r.git', 'https://127.0.0.1:8080/o/r'],
    // ssh://, with and without user and port: both dropped (the SSH port is not the web address)
    ['ssh://github.com/owner/repo.git', 'https://github.com/owner/repo'],
    ['ssh://git@github.com/owner/repo.git', 'https://github.com/owner/repo'],
    ['ssh://git@gitlab.example.com:2222/group/proj.git', 'https://gitlab.example.com/group/proj'],
    ['ssh://gitlab.example.com:2222/group/proj', 'https://gitlab.example.com/group/proj'],
    // scp-like
    ['git@github.com:owner/repo.git', 'https://github.com/owner/repo'],
    ['git@github.com:owner/repo', 'https://github.com/owner/repo'],
    ['github.com:owner/repo.git', 'https://github.com/owner/repo'],
    ['deploy@git.example.com:/srv/o/r.git', 'https://git.example.com/srv/o/r'],
    // git+https, git+ssh, ssh+git, git://
    ['git+https://github.com/owner/repo.git', 'https://github.com/owner/repo'],
    ['git+https://git.example.com:8443/o/r', 'https://git.example.com:8443/o/r'],
    ['git+ssh://git@github.com/owner/repo.git', 'https://github.com/owner/repo'],
    ['git+ssh://git@git.example.com:8443/o/r.git', 'https://git.example.com/o/r'],
    ['ssh+git://git@github.com/owner/repo', 'https://github.com/owner/repo'],
    ['git://git.example.com/group/sub/repo', 'https://git.example.com/group/sub/repo'],
    // .git and trailing slashes
    ['https://github.com/owner/repo.git/', 'https://github.com/owner/repo'],
    ['https://github.com/owner/repo///', 'https://github.com/owner/repo'],
    ['https://github.com/owner/repo.GIT', 'https://github.com/owner/repo'],
    // host case: host lower-cased, path case kept
    ['HTTPS://GitHub.COM/Owner/Repo', 'https://github.com/Owner/Repo'],
    ['git@GitHub.com:Owner/Repo.git', 'https://github.com/Owner/Repo'],
    // bare forms
    ['github.com/owner/repo', 'https://github.com/owner/repo'],
    ['GitLab.example.org/group/sub/proj', 'https://gitlab.example.org/group/sub/proj'],
    ['Owner/Repo', 'https://github.com/Owner/Repo'],
    ['owner/repo.git', 'https://github.com/owner/repo'],
    // nested groups, IPv6 hosts, surrounding spaces
    ['https://gitlab.example.org/a/b/c/d', 'https://gitlab.example.org/a/b/c/d'],
    ['https://[2001:db8::1]:8443/o/r', 'https://[2001:db8::1]:8443/o/r'],
    ['  https://github.com/owner/repo \n', 'https://github.com/owner/repo'],
  ])('when the repository is written %j, it normalises to %s', (input, want) => {
    expect(parseRepositoryUrl(input)).toEqual({ ok: true, url: want });
    // The normal form is a fixed point.
    expect(normalizeRepositoryUrl(want)).toBe(want);
  });

  it.each<[string, RepositoryUrlErrorCode]>([
    ['', 'REPOSITORY_URL_EMPTY'],
    ['   ', 'REPOSITORY_URL_EMPTY'],
    // credentials
    ['https://x-access-token:ghs_secret@github.com/owner/repo', 'REPOSITORY_URL_CREDENTIALS'],
    ['https://ghp_token@github.com/owner/repo', 'REPOSITORY_URL_CREDENTIALS'],
    ['ssh://git:password@github.com/owner/repo', 'REPOSITORY_URL_CREDENTIALS'],
    ['git:password@github.com:owner/repo', 'REPOSITORY_URL_CREDENTIALS'],
    // query and fragment
    ['https://github.com/owner/repo?tab=readme', 'REPOSITORY_URL_QUERY'],
    ['https://github.com/owner/repo#readme', 'REPOSITORY_URL_QUERY'],
    ['https://github.com/owner/repo?', 'REPOSITORY_URL_QUERY'],
    // empty or one-segment path
    ['https://github.com', 'REPOSITORY_URL_PATH'],
    ['https://github.com/', 'REPOSITORY_URL_PATH'],
    ['https://github.com/owner', 'REPOSITORY_URL_PATH'],
    ['https://github.com/.git', 'REPOSITORY_URL_PATH'],
    ['https://github.com/owner//repo', 'REPOSITORY_URL_PATH'],
    ['https://github.com/owner/re%2fpo', 'REPOSITORY_URL_PATH'],
    ['https://github.com/owner/re:po', 'REPOSITORY_URL_PATH'],
    // dot segments
    ['https://github.com/a/../b', 'REPOSITORY_URL_DOT_SEGMENT'],
    ['https://github.com/owner/repo/..', 'REPOSITORY_URL_DOT_SEGMENT'],
    ['git@github.com:./owner/repo', 'REPOSITORY_URL_DOT_SEGMENT'],
    // hosts and ports
    ['https:///owner/repo', 'REPOSITORY_URL_HOST'],
    ['https://-bad-.example.com/o/r', 'REPOSITORY_URL_HOST'],
    ['https://host_name.example.com/o/r', 'REPOSITORY_URL_HOST'],
    ['https://github.com:0/o/r', 'REPOSITORY_URL_HOST'],
    ['https://github.com:65536/o/r', 'REPOSITORY_URL_HOST'],
    ['https://github.com:/o/r', 'REPOSITORY_URL_HOST'],
    // not a repository address
    ['nope', 'REPOSITORY_URL_FORM'],
    ['file:///srv/git/repo', 'REPOSITORY_URL_FORM'],
    ['ftp://example.com/o/r', 'REPOSITORY_URL_FORM'],
    ['/srv/git/repo.git', 'REPOSITORY_URL_FORM'],
    ['../repo', 'REPOSITORY_URL_FORM'],
    ['C:/src/repo', 'REPOSITORY_URL_FORM'],
    ['https://github.com/owner/re po', 'REPOSITORY_URL_FORM'],
    ['https://github.com/owner/repo\n✔ VERIFIED', 'REPOSITORY_URL_FORM'],
    ['https://github.com/owner/répo', 'REPOSITORY_URL_FORM'],
    ['https://github.com\\owner\\repo', 'REPOSITORY_URL_FORM'],
    [`https://github.com/${'a'.repeat(3000)}/r`, 'REPOSITORY_URL_FORM'],
  ])('when the repository is %j, it is refused with %s', (input, code) => {
    const r = parseRepositoryUrl(input);
    expect(r.ok).toBe(false);
    expect(r.ok ? null : r.code).toBe(code);
    expect(normalizeRepositoryUrl(input)).toBeNull();
  });

  it('when every refusal code is listed, each has a case above (the list is closed)', () => {
    expect([...REPOSITORY_URL_ERROR_CODES].sort()).toEqual([
      'REPOSITORY_URL_CREDENTIALS',
      'REPOSITORY_URL_DOT_SEGMENT',
      'REPOSITORY_URL_EMPTY',
      'REPOSITORY_URL_FORM',
      'REPOSITORY_URL_HOST',
      'REPOSITORY_URL_PATH',
      'REPOSITORY_URL_QUERY',
    ]);
  });

  it.each([
    ['https://x-access-token:ghs_secret@github.com/owner/repo', 'https://github.com/owner/repo'],
    ['https://ghp_token@github.com/owner/repo.git', 'https://github.com/owner/repo'],
    ['ssh://git@GitHub.com:22/owner/repo.git/', 'https://github.com/owner/repo'],
    ['git@github.com:owner/repo.git', 'https://github.com/owner/repo'],
  ])(
    'when a git remote %s carries credentials, they are dropped, never recorded',
    (remote, want) => {
      expect(normalizeRepositoryUrl(remote, { remote: true })).toBe(want);
    },
  );

  it.each(['owner/repo', 'github.com/owner/repo', '../repo', '/srv/git/repo.git'])(
    'when a git remote is the local path %j, it is not read as an address',
    (remote) => {
      expect(parseRepositoryUrl(remote, { remote: true })).toMatchObject({
        ok: false,
        code: 'REPOSITORY_URL_FORM',
      });
    },
  );

  it('when build and verify see the same repository with a port, they agree (the port is kept on both sides)', () => {
    const recorded = normalizeRepositoryUrl('https://git.example.com:8443/o/r.git', {
      remote: true,
    });
    expect(recorded).toBe('https://git.example.com:8443/o/r');
    expect(sameRepository(recorded!, 'git+https://git.example.com:8443/o/r')).toBe(true);
    expect(sameRepository(recorded!, 'https://git.example.com/o/r')).toBe(false);
    expect(sameRepository('git+ssh://git@github.com/o/r.git', 'https://github.com/O/R')).toBe(true);
  });
});
