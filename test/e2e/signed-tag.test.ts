/**
 * A build of an SSH-signed tag end to end (the rest of the real-build cases, unsigned, edited,
 * lightweight tag, OpenPGP, are in test/long/signed-source.test.ts): real git and ssh-keygen keys
 * made here, `tee-compile build --local` (the worker records the raw commit and tag objects and its reading of their
 * signatures in provenance.json) and `tee-compile verify` re-verifying them against the signers
 * the consumer names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { readBundle } from '../../src/bundle/index.js';
import { parseStatement, readOrigin } from '../../src/provenance/index.js';
import type { TestRepo } from '../support/source/build-repo.js';
import type { TestSigner } from '../support/source/signing.js';
import { allowedSignersFile, makeSshSigner } from '../support/source/signing.js';
import type { SignedTagBuild } from '../support/cli/signed-build.js';
import { buildSignedTag, signedVerifier } from '../support/cli/signed-build.js';

let work: string;
const repos: TestRepo[] = [];
let alice: TestSigner;
let mallory: TestSigner;
let signed: SignedTagBuild;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-signed-'));
  alice = makeSshSigner('ed25519', 'alice@acme');
  mallory = makeSshSigner('ed25519', 'mallory@evil');
  signed = await buildSignedTag(work, alice);
  repos.push(signed.repo);
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

const { verify, verifyJson } = signedVerifier(() => work);

describe('a build of an SSH-signed tag', () => {
  it('records the raw commit and tag objects and the worker reading of their signatures', async () => {
    const b = await readBundle(fileChunks(signed.bundle));
    const origin = readOrigin(parseStatement(b.provenance));
    expect(origin.commit?.id).toBe(signed.commit);
    expect(origin.tag?.name).toBe('v1.0.0');
    expect(origin.commit?.signature).toMatchObject({
      format: 'ssh',
      keyFingerprint: alice.fingerprint,
      verified: true,
    });
    expect(origin.tag?.signature).toMatchObject({ format: 'ssh', verified: true });
  });

  it('verify --allowed-signers --tag names the tag, the commit and the signer', async () => {
    const r = await verify(
      signed.bundle,
      '--allowed-signers',
      allowedSignersFile([{ signer: alice }]),
      '--tag',
      'v1.0.0',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`tag      v1.0.0`);
    expect(r.stdout).toContain(`names commit ${signed.commit}`);
    expect(r.stdout).toContain(
      `commit   ${signed.commit}: commit signed by alice@acme (ssh ed25519 ${alice.fingerprint})`,
    );
    expect(r.stdout).toContain(`tag signed by alice@acme (ssh ed25519 ${alice.fingerprint})`);
    expect(r.stdout).toContain('an unverified label (no workflow token)');
  });

  it('when another tag is asked for, it refuses with SOURCE_TAG_MISMATCH', async () => {
    expect(await verifyJson(signed.bundle, '--tag', 'v2.0.0')).toMatchObject({
      ok: false,
      code: 'SOURCE_TAG_MISMATCH',
    });
  });

  it('when the signer is not among the allowed signers, it refuses with SOURCE_SIGNER_UNTRUSTED', async () => {
    const file = allowedSignersFile([{ signer: mallory }]);
    expect(await verifyJson(signed.bundle, '--allowed-signers', file)).toMatchObject({
      code: 'SOURCE_SIGNER_UNTRUSTED',
    });
  });

  it('when the key had expired at the commit time, it refuses with SOURCE_SIGNER_UNTRUSTED', async () => {
    const file = allowedSignersFile([{ signer: alice, options: 'valid-before="20231231"' }]);
    expect(await verifyJson(signed.bundle, '--allowed-signers', file)).toMatchObject({
      code: 'SOURCE_SIGNER_UNTRUSTED',
    });
  });

  it('when a policy file names the signer and requires a signed tag, it verifies', async () => {
    if (alice.kind !== 'ssh') throw new Error('ssh');
    const policy = join(work, 'policy.json');
    await writeFile(
      policy,
      JSON.stringify({
        allowSimulated: true,
        source: {
          requireSigned: 'tag',
          tag: 'v1.0.0',
          signers: [{ principal: 'alice@acme', sshKey: alice.publicText }],
        },
      }),
    );
    expect(await verifyJson(signed.bundle, '--policy', policy)).toMatchObject({ ok: true });
  });
});
