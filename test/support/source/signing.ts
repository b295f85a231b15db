/**
 * Real signing keys for tests: SSH keys made by ssh-keygen, OpenPGP keys made by gpg (in a
 * GNUPGHOME of their own), and git run with them to sign commits and tags.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GIT_ENV, tempDir } from './provenance-git.js';

export type SshKeyType = 'ed25519' | 'ecdsa-256' | 'ecdsa-384' | 'rsa';

/** A signer git can use: SSH (a private key file) or OpenPGP (a GNUPGHOME and key id). */
export type TestSigner =
  | { kind: 'ssh'; privateFile: string; publicText: string; fingerprint: string; principal: string }
  | { kind: 'pgp'; home: string; fingerprint: string; armoredPublic: string; userId: string };

/** A fresh SSH key pair of `type` for `principal`. */
export function makeSshSigner(type: SshKeyType = 'ed25519', principal = 'alice@acme'): TestSigner {
  const dir = tempDir('ssh-key-');
  const file = join(dir, 'id');
  const [t, bits] =
    type === 'ed25519'
      ? ['ed25519', []]
      : type === 'rsa'
        ? ['rsa', ['-b', '2048']]
        : ['ecdsa', ['-b', type.slice(6)]];
  execFileSync('ssh-keygen', ['-q', '-t', t, ...bits, '-N', '', '-C', principal, '-f', file]);
  const publicText = readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`])
    .toString()
    .split(' ')[1]!;
  return { kind: 'ssh', privateFile: file, publicText, fingerprint, principal };
}

/** A fresh OpenPGP key (ed25519 by default, or RSA) in a GNUPGHOME of its own. */
export function makePgpSigner(
  userId = 'Alice <alice@acme>',
  algo: 'ed25519' | 'rsa2048' = 'ed25519',
  expire = 'never',
): TestSigner {
  const home = tempDir('gpg-');
  const env = { ...process.env, GNUPGHOME: home };
  execFileSync(
    'gpg',
    ['--batch', '--quiet', '--passphrase', '', '--quick-gen-key', userId, algo, 'sign', expire],
    { env, stdio: 'pipe' },
  );
  const colons = execFileSync('gpg', ['--batch', '--with-colons', '--list-keys', userId], {
    env,
  }).toString();
  const fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(colons)![1]!;
  const armoredPublic = execFileSync('gpg', ['--batch', '--armor', '--export', fingerprint], {
    env,
  }).toString();
  return { kind: 'pgp', home, fingerprint, armoredPublic, userId };
}

/** Stops the gpg-agent of a signer's GNUPGHOME (call when done). */
export function stopPgpSigner(s: TestSigner): void {
  if (s.kind !== 'pgp') return;
  try {
    execFileSync('gpgconf', ['--kill', 'gpg-agent'], {
      env: { ...process.env, GNUPGHOME: s.home },
      stdio: 'ignore',
    });
  } catch {
    // Already gone.
  }
}

/** git `-c` options and environment that make git sign with `s`. */
export function signingArgs(s: TestSigner): { args: string[]; env: NodeJS.ProcessEnv } {
  if (s.kind === 'ssh')
    return {
      args: ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${s.privateFile}`],
      env: GIT_ENV,
    };
  return {
    args: ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${s.fingerprint}`],
    env: { ...GIT_ENV, GNUPGHOME: s.home },
  };
}

/** Runs git with `s` as the signing key. */
export function signingGit(
  dir: string,
  s: TestSigner,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): string {
  const { args: pre, env: base } = signingArgs(s);
  return execFileSync('git', [...pre, ...args], {
    cwd: dir,
    env: { ...base, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
    .toString()
    .trim();
}

/** Commits everything in `dir`, signed by `s`; returns the commit id. */
export function signedCommit(
  dir: string,
  s: TestSigner,
  message = 'signed',
  env: NodeJS.ProcessEnv = {},
): string {
  signingGit(dir, s, ['add', '-A'], env);
  signingGit(dir, s, ['commit', '-q', '-S', '--allow-empty', '-m', message], env);
  return signingGit(dir, s, ['rev-parse', 'HEAD'], env);
}

/** Makes a signed annotated tag `name` on `target` (default HEAD). */
export function signedTag(
  dir: string,
  s: TestSigner,
  name: string,
  target = 'HEAD',
  env: NodeJS.ProcessEnv = {},
): void {
  signingGit(dir, s, ['tag', '-s', name, '-m', `release ${name}`, target], env);
}

/** An allowed signers file for SSH signers (`<principal> [options] <key>`), written to a temp file. */
export function allowedSignersFile(
  lines: readonly { signer: TestSigner; options?: string }[],
): string {
  const text = lines
    .map(({ signer, options }) => {
      if (signer.kind !== 'ssh') throw new Error('allowed signers hold SSH keys');
      return `${signer.principal}${options ? ` ${options}` : ''} ${signer.publicText}`;
    })
    .join('\n');
  const file = join(tempDir('signers-'), 'allowed_signers');
  writeFileSync(file, `${text}\n`);
  return file;
}
