import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { NsmClient, SIMULATION_ROOT, verifyAttestation } from '../../src/attestation/index.js';
import { HelperNsmTransport } from '../../src/worker/nsm-device.js';
import { toHex } from '../../src/util/hex.js';
import { fakeNsmHelper, helperPcr } from '../support/nitro/sandbox-nsm.js';

describe('NSM transport through the helper', () => {
  it('when the helper answers, requests round-trip and an attestation carries the nonce and user data', async () => {
    const nsm = new NsmClient(new HelperNsmTransport(await fakeNsmHelper('software')));
    expect(toHex((await nsm.describePcr(3)).data)).toBe(toHex(helperPcr(3)));
    const nonce = new Uint8Array(32).fill(5);
    const userData = new Uint8Array(createHash('sha256').update('provenance').digest());
    const doc = await nsm.attest({ nonce, userData });
    const r = await verifyAttestation(doc, {
      trustAnchors: [SIMULATION_ROOT],
      expectedNonce: nonce,
      expectedUserData: userData,
    });
    expect(r.ok).toBe(true);
  });

  it('when there is no NSM device, the request fails with NSM_HELPER_FAILED saying so', async () => {
    const t = new HelperNsmTransport(await fakeNsmHelper('no-device'));
    const err = await new NsmClient(t).describeNsm().catch((e: unknown) => e);
    expect(err).toHaveCode('NSM_HELPER_FAILED');
    expect((err as Error).message).toMatch(/status 3 \(no NSM device/);
  });

  it('when the helper writes nothing, the request fails with NSM_HELPER_OUTPUT', async () => {
    const t = new HelperNsmTransport(await fakeNsmHelper('silent'));
    await expect(new NsmClient(t).describeNsm()).rejects.toHaveCode('NSM_HELPER_OUTPUT');
  });

  it('when the helper writes more than an NSM response can be, the request fails with NSM_HELPER_OUTPUT', async () => {
    const t = new HelperNsmTransport(await fakeNsmHelper('oversized'));
    await expect(new NsmClient(t).describeNsm()).rejects.toHaveCode('NSM_HELPER_OUTPUT');
  });

  it('when the helper hangs, the request fails with NSM_HELPER_TIMEOUT', async () => {
    const t = new HelperNsmTransport(await fakeNsmHelper('hang'), 300);
    await expect(new NsmClient(t).describeNsm()).rejects.toHaveCode('NSM_HELPER_TIMEOUT');
  });

  it('when the helper does not exist, the request fails with NSM_HELPER_FAILED', async () => {
    const t = new HelperNsmTransport('/nonexistent/tee-nsm');
    await expect(new NsmClient(t).describeNsm()).rejects.toHaveCode('NSM_HELPER_FAILED');
  });
});
