/**
 * The builder signature (provenance.dsse.json) in bundle verification: every refusal code of the
 * envelope check made to happen, and an accepted signed bundle.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import type { DsseSigner } from '../../src/dsse/index.js';
import {
  cryptoKeySigner,
  encodeEnvelope,
  importP256PrivateKey,
  keyFingerprint,
  parseEnvelope,
} from '../../src/dsse/index.js';
import type { TrustPolicy } from '../../src/verify/index.js';
import { verifyBundle } from '../../src/verify/index.js';
import { VERIFIED_AT, makeBundle, rebundle } from '../support/bundles/bundle-factory.js';
import { simulatedPolicy, trusted } from '../support/bundles/verify-policy.js';

const opts = { now: VERIFIED_AT };
let key: DsseSigner;
let other: DsseSigner;
let policy: TrustPolicy;

async function newSigner(): Promise<DsseSigner> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const k = await importP256PrivateKey(
    new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })),
  );
  return cryptoKeySigner(k.privateKey, k.spki);
}

beforeAll(async () => {
  key = await newSigner();
  other = await newSigner();
  policy = await simulatedPolicy();
});

describe('verifyBundle: the builder signature', () => {
  it('when the bundle is signed by its attested key, it verifies and names the key', async () => {
    const b = await makeBundle({ sign: { signer: key } });
    const r = await verifyBundle(b.bytes, policy, opts);
    expect(r.ok && r.signature).toEqual({ keyFingerprint: await keyFingerprint(key.spki) });
  });

  it('when the bundle is unsigned, it verifies with no builder signature', async () => {
    const r = await verifyBundle((await makeBundle()).bytes, policy, opts);
    expect(r.ok && r.signature).toBeNull();
  });

  it('when the envelope signs other bytes, it refuses with ENVELOPE_PAYLOAD_MISMATCH', async () => {
    const b = await makeBundle({ sign: { signer: key } });
    const env = parseEnvelope(b.contents.envelope!);
    const forged = { ...env, payload: new TextEncoder().encode('{"_type":"other"}') };
    const bytes = await rebundle(b.contents, (c) => (c.envelope = encodeEnvelope(forged)));
    expect(await verifyBundle(bytes, policy, opts)).toBeRefusedWith('ENVELOPE_PAYLOAD_MISMATCH');
  });

  it('when the envelope is signed by another key under the attested key id, it refuses with ENVELOPE_SIGNATURE_INVALID', async () => {
    const fp = (await keyFingerprint(key.spki)).slice('sha256:'.length);
    const b = await makeBundle({
      sign: {
        signer: { spki: key.spki, sign: (d) => other.sign(d) },
      },
    });
    expect(parseEnvelope(b.contents.envelope!).signatures[0]!.keyid).toBe(fp);
    expect(await verifyBundle(b.bytes, policy, opts)).toBeRefusedWith('ENVELOPE_SIGNATURE_INVALID');
  });

  it('when the envelope names a key the attestation does not carry, it refuses with ENVELOPE_KEY_NOT_ATTESTED', async () => {
    const b = await makeBundle({ sign: { signer: other, attestedKey: key.spki } });
    expect(await verifyBundle(b.bytes, policy, opts)).toBeRefusedWith('ENVELOPE_KEY_NOT_ATTESTED');
    const none = await makeBundle({ sign: { signer: key, attestedKey: null } });
    expect(await verifyBundle(none.bytes, policy, opts)).toBeRefusedWith(
      'ENVELOPE_KEY_NOT_ATTESTED',
    );
  });

  it('when the envelope is not in canonical form, it refuses with ENVELOPE_MALFORMED', async () => {
    const b = await makeBundle({
      sign: {
        signer: key,
        envelope: (e) => new TextEncoder().encode(` ${new TextDecoder().decode(e)}`),
      },
    });
    expect(await verifyBundle(b.bytes, policy, opts)).toBeRefusedWith('ENVELOPE_MALFORMED');
  });

  it('when --builder-key names another key, it refuses with BUILDER_KEY_MISMATCH', async () => {
    const b = await makeBundle({ sign: { signer: key } });
    expect(
      await verifyBundle(b.bytes, { ...policy, builderKey: other.spki }, opts),
    ).toBeRefusedWith('BUILDER_KEY_MISMATCH');
    const same = await verifyBundle(b.bytes, { ...policy, builderKey: key.spki }, opts);
    expect(same.ok).toBe(true);
  });

  it("when the policy's builder names a key, an unsigned bundle of it is refused with BUILDER_SIGNATURE_MISSING", async () => {
    const b = await makeBundle();
    const builders = trusted().map((t) => ({ ...t, publicKey: key.spki }));
    expect(await verifyBundle(b.bytes, { ...policy, builders }, opts)).toBeRefusedWith(
      'BUILDER_SIGNATURE_MISSING',
    );
    const signedByOther = await makeBundle({ sign: { signer: other } });
    expect(await verifyBundle(signedByOther.bytes, { ...policy, builders }, opts)).toBeRefusedWith(
      'BUILDER_KEY_MISMATCH',
    );
  });
});
