/**
 * The worker's origin check (src/worker/origin.ts): what refuses a build is checked at once, the
 * signatures are read only when the descriptors are asked for (while the command runs), and read
 * once. Real gpg keys and real git commits and tags.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ORIGIN_COMMIT, ORIGIN_TAG } from '../../src/provenance/source/origin.js';
import type { BuildRequest } from '../../src/protocol/index.js';
import { WorkerError } from '../../src/protocol/index.js';
import { checkOrigin } from '../../src/worker/origin.js';
import { git, gitBytes, makeRepo } from '../support/source/provenance-git.js';
import type { TestSigner } from '../support/source/signing.js';
import {
  makePgpSigner,
  signedCommit,
  signedTag,
  stopPgpSigner,
} from '../support/source/signing.js';

let alice: TestSigner;
let dir: string;
let commit: string;
let commitRaw: Uint8Array;
let tagRaw: Uint8Array;

beforeAll(() => {
  alice = makePgpSigner('Alice <alice@acme>');
  dir = makeRepo({ 'a.txt': 'a\n' });
  commit = signedCommit(dir, alice, 'signed release');
  signedTag(dir, alice, 'v1.0.0');
  commitRaw = new Uint8Array(gitBytes(dir, ['cat-file', 'commit', commit]));
  tagRaw = new Uint8Array(gitBytes(dir, ['cat-file', 'tag', 'v1.0.0']));
}, 60_000);
afterAll(() => stopPgpSigner(alice));

function request(origin?: BuildRequest['origin']): BuildRequest {
  return {
    type: 'build',
    nonce: '00'.repeat(32),
    workdir: '.',
    source: {
      repository: null,
      commit,
      tree: git(dir, ['rev-parse', `${commit}^{tree}`]),
      objectFormat: 'sha1',
    },
    inputs: { config: 0, commit: commitRaw.length, source: 0, deps: 0 },
    ...(origin !== undefined ? { origin } : {}),
  };
}

const tagOrigin = (name: string): BuildRequest['origin'] => ({
  tag: { name, object: Buffer.from(tagRaw).toString('base64') },
});

describe('the worker origin check', () => {
  it('records the OpenPGP signatures of the commit and the tag, verified with the key given', async () => {
    const origin = await checkOrigin(
      request({
        ...tagOrigin('v1.0.0'),
        pgpKeys: [alice.kind === 'pgp' ? alice.armoredPublic : ''],
      }),
      commitRaw,
    );
    const descriptors = await origin.descriptors();
    const byName = new Map(descriptors.map((d) => [d.name, d]));
    const fingerprint = alice.kind === 'pgp' ? alice.fingerprint : '';
    expect(byName.get(ORIGIN_COMMIT)?.annotations?.signature).toMatchObject({
      format: 'openpgp',
      keyFingerprint: fingerprint,
      verified: true,
    });
    expect(byName.get(ORIGIN_TAG)?.annotations).toMatchObject({
      tag: 'v1.0.0',
      signature: { format: 'openpgp', keyFingerprint: fingerprint, verified: true },
    });
  });

  it('without the key, it records the issuer of the signature, unverified', async () => {
    const origin = await checkOrigin(request(), commitRaw);
    const commitDescriptor = (await origin.descriptors()).find((d) => d.name === ORIGIN_COMMIT);
    expect(commitDescriptor?.annotations?.signature).toMatchObject({
      format: 'openpgp',
      keyFingerprint: alice.kind === 'pgp' ? alice.fingerprint : '',
      verified: null,
    });
  });

  it('reads the signatures once, however often the descriptors are asked for', async () => {
    const origin = await checkOrigin(request(tagOrigin('v1.0.0')), commitRaw);
    const first = origin.descriptors();
    expect(origin.descriptors()).toBe(first);
    expect(await first).toHaveLength(2);
  });

  it('refuses a tag of another name at once, before any signature is read', async () => {
    const err = await checkOrigin(request(tagOrigin('v2.0.0')), commitRaw).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerError);
    expect((err as WorkerError).code).toBe('SOURCE_TAG_MISMATCH');
  });

  it('refuses an unreadable OpenPGP key at once with CONFIG_INVALID', async () => {
    const err = await checkOrigin(request({ pgpKeys: ['not a key'] }), commitRaw).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkerError);
    expect((err as WorkerError).code).toBe('CONFIG_INVALID');
  });
});
