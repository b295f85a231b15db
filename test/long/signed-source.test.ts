/**
 * Signed commits and tags end to end: real git, ssh-keygen and gpg keys made here, `tee-compile
 * build --local` (the worker records the raw commit and tag objects and its reading of their
 * signatures in provenance.json) and `tee-compile verify` re-verifying them against the signers
 * the consumer names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { readBundle } from '../../src/bundle/index.js';
import { parseStatement, readOrigin } from '../../src/provenance/index.js';
import { cliBuild, cliBuildJson } from '../support/cli/build-cli.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { GIT_ENV } from '../support/source/provenance-git.js';
import type { TestSigner } from '../support/source/signing.js';
import {
  allowedSignersFile,
  makePgpSigner,
  makeSshSigner,
  signedCommit,
  stopPgpSigner,
} from '../support/source/signing.js';
import type { SignedTagBuild } from '../support/cli/signed-build.js';
import { buildSignedTag, signedVerifier } from '../support/cli/signed-build.js';

let work: string;
const repos: TestRepo[] = [];
let alice: TestSigner;
let signed: SignedTagBuild;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-signed-'));
  alice = makeSshSigner('ed25519', 'alice@acme');
  signed = await buildSignedTag(work, alice);
  repos.push(signed.repo);
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

const { verify, verifyJson } = signedVerifier(() => work);

// The signed tag itself (what the report names, the signer checks) is test/e2e/signed-tag.test.ts.

describe('builds of commits that are not properly signed', () => {
  it('when the commit is unsigned and signers are named, it refuses with SOURCE_UNSIGNED', async () => {
    const repo = await makeRepo(goProject('echo plain > out.txt'));
    repos.push(repo);
    const bundle = join(work, 'plain.tar.gz');
    await cliBuildJson(['--local', '--out', bundle], repo.dir, work);
    expect(await verifyJson(bundle)).toMatchObject({ ok: true });
    const file = allowedSignersFile([{ signer: alice }]);
    expect(await verifyJson(bundle, '--allowed-signers', file)).toMatchObject({
      code: 'SOURCE_UNSIGNED',
    });
  });

  it('when the commit was edited after signing, the build records it and verify refuses with SOURCE_SIGNATURE_INVALID', async () => {
    const repo = await makeRepo(goProject('echo edited > out.txt'));
    repos.push(repo);
    signedCommit(repo.dir, alice, 'release 1.0.0');
    const raw = execFileSync('git', ['cat-file', 'commit', 'HEAD'], { cwd: repo.dir }).toString();
    const edited = execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], {
      cwd: repo.dir,
      input: raw.replace('release 1.0.0', 'release 6.6.6'),
      env: GIT_ENV,
    })
      .toString()
      .trim();
    execFileSync('git', ['reset', '-q', '--hard', edited], { cwd: repo.dir, env: GIT_ENV });
    const bundle = join(work, 'edited.tar.gz');
    await cliBuildJson(['--local', '--out', bundle], repo.dir, work);
    const file = allowedSignersFile([{ signer: alice }]);
    expect(await verifyJson(bundle, '--allowed-signers', file)).toMatchObject({
      code: 'SOURCE_SIGNATURE_INVALID',
    });
  });

  it('when the tag is lightweight or names another commit, build refuses with SOURCE_TAG_INVALID', async () => {
    execFileSync('git', ['tag', 'light'], { cwd: signed.repo.dir, env: GIT_ENV });
    const light = await cliBuild(
      ['--local', '--tag', 'light', '--out', join(work, 'l.tar.gz')],
      signed.repo.dir,
      work,
    );
    expect(light.code).toBe(1);
    expect(light.stderr).toContain('SOURCE_TAG_INVALID');
    signedCommit(signed.repo.dir, alice, 'next');
    const old = await cliBuild(
      ['--local', '--tag', 'v1.0.0', '--out', join(work, 'o.tar.gz')],
      signed.repo.dir,
      work,
    );
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('SOURCE_TAG_INVALID');
  });
});

describe('a build of an OpenPGP-signed commit', () => {
  it('verifies with --pgp-key naming the key, and refuses another key', async () => {
    const pgp = makePgpSigner('Alice <alice@acme>');
    const other = makePgpSigner('Mallory <m@evil>');
    try {
      if (pgp.kind !== 'pgp' || other.kind !== 'pgp') throw new Error('pgp');
      const repo = await makeRepo(goProject('echo pgp > out.txt'));
      repos.push(repo);
      signedCommit(repo.dir, pgp, 'release');
      const key = join(work, 'alice.asc');
      const otherKey = join(work, 'mallory.asc');
      await writeFile(key, pgp.armoredPublic);
      await writeFile(otherKey, other.armoredPublic);
      const bundle = join(work, 'pgp.tar.gz');
      await cliBuildJson(['--local', '--pgp-key', key, '--out', bundle], repo.dir, work);
      const b = await readBundle(fileChunks(bundle));
      expect(readOrigin(parseStatement(b.provenance)).commit?.signature).toMatchObject({
        format: 'openpgp',
        verified: true,
      });
      const r = await verify(bundle, '--pgp-key', key);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        `commit signed by Alice <alice@acme> (openpgp ${pgp.fingerprint})`,
      );
      expect(await verifyJson(bundle, '--pgp-key', otherKey)).toMatchObject({
        code: 'SOURCE_SIGNER_UNTRUSTED',
      });
    } finally {
      stopPgpSigner(pgp);
      stopPgpSigner(other);
    }
  });
});
