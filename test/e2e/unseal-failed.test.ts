/**
 * The worker's UNSEAL_FAILED inside real builds (local backend, sandboxed worker, software NSM),
 * with a host that does not hand back what KMS answered for this enclave: the answer KMS gave
 * another enclave (another recipient key), KMS's answer with its wrapped content key altered, and
 * a genuine answer for this enclave that opens to another builder key than the one announced.
 * The build command ran; no bundle is written; KMS itself answered every Decrypt.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentInfo, EnvelopedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  NsmClient,
  SIMULATION_ROOT,
  SoftwareNsm,
  pcr3ForIamRole,
} from '../../src/attestation/index.js';
import { loadImageCatalog } from '../../src/catalog/node.js';
import { runBuild } from '../../src/client/run-build.js';
import type { LocalBackend } from '../../src/enclave/local.js';
import { DEFAULT_SIMULATED_ROLE } from '../../src/enclave/local.js';
import { newRecipientKey } from '../../src/kms/index.js';
import type { HostBuilderKey } from '../../src/kms/node.js';
import { openHostBuilderKey } from '../../src/kms/node.js';
import { WorkerError } from '../../src/protocol/index.js';
import { fromHex } from '../../src/util/hex.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import type { SealedKeyFile } from '../support/aws/builder-key.js';
import { KMS_TEST_CREDENTIALS, sealBuilderKey, simulatedImages } from '../support/aws/builder-key.js';
import type { KmsStandIn } from '../support/aws/kms-standin.js';
import { startKmsStandIn } from '../support/aws/kms-standin.js';
import { sandboxBackend } from '../support/processes/sandbox-worker.js';

let work: string;
let backend: LocalBackend;
let kms: KmsStandIn;
let repo: TestRepo;
let key: SealedKeyFile;
let otherKey: SealedKeyFile;
const hosts: HostBuilderKey[] = [];

async function hostKey(k: SealedKeyFile): Promise<HostBuilderKey> {
  const h = await openHostBuilderKey(k.file, { ...KMS_TEST_CREDENTIALS }, { endpoint: kms.url });
  hosts.push(h);
  return h;
}

/** An attestation document of a trusted image and role, carrying another enclave's RSA key. */
async function anotherEnclave(): Promise<Uint8Array> {
  const [pcr0] = await simulatedImages();
  const nsm = await SoftwareNsm.create({
    pcrs: new Map([
      [0, fromHex(pcr0!)],
      [3, pcr3ForIamRole(DEFAULT_SIMULATED_ROLE)],
    ]),
  });
  return new NsmClient(nsm).attest({ publicKey: newRecipientKey().spki });
}

/** CiphertextForRecipient with one byte of the RSA-OAEP wrapped content key flipped. */
function alterWrappedKey(cms: Uint8Array): Uint8Array {
  const env = AsnConvert.parse(AsnConvert.parse(cms, ContentInfo).content, EnvelopedData);
  const wrapped = Buffer.from(env.recipientInfos[0]!.ktri!.encryptedKey.buffer);
  const at = Buffer.from(cms).indexOf(wrapped);
  expect(at).toBeGreaterThan(0);
  const out = cms.slice();
  out[at + 100]! ^= 0x01;
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-unseal-'));
  backend = await sandboxBackend();
  kms = await startKmsStandIn({ roots: [SIMULATION_ROOT] });
  key = await sealBuilderKey(kms, work, 'builder');
  otherKey = await sealBuilderKey(kms, work, 'other');
  repo = await makeRepo(goProject('echo the build ran > out.txt'));
});
afterAll(async () => {
  for (const h of hosts) h.close();
  await repo?.remove();
  await kms?.close();
  await rm(work, { recursive: true, force: true });
});

async function buildWith(
  name: string,
  fingerprint: string,
  unseal: (attestation: Uint8Array) => Promise<Uint8Array>,
): Promise<{ error: unknown; out: string; asked: Uint8Array[]; phases: string[] }> {
  const out = join(work, `${name}.tar.gz`);
  const asked: Uint8Array[] = [];
  const phases: string[] = [];
  const error = await runBuild({
    dir: repo.dir,
    out,
    backend,
    catalog: await loadImageCatalog(),
    cacheDir: join(work, 'cache'),
    builderKey: {
      fingerprint,
      unseal: (doc) => {
        asked.push(doc);
        return unseal(doc);
      },
    },
    onEvent: (e) => {
      if (e.type === 'phase') phases.push(e.phase);
    },
  }).then(
    () => null,
    (e: unknown) => e,
  );
  return { error, out, asked, phases };
}

describe('a host that does not hand back what KMS answered for this enclave', () => {
  it('when it hands back the answer for another enclave’s key, the worker fails the build with UNSEAL_FAILED', async () => {
    const host = await hostKey(key);
    const r = await buildWith('other-recipient', key.fingerprint, () =>
      anotherEnclave().then((doc) => host.unseal(doc)),
    );
    // The worker's refusal, sent over the protocol.
    expect(r.error).toBeInstanceOf(WorkerError);
    expect(r.error).toHaveCode('UNSEAL_FAILED');
    expect(r.asked).toHaveLength(1);
    expect(r.phases).toContain('building');
    expect(kms.calls.filter((c) => c.op === 'Decrypt').at(-1)).toMatchObject({
      status: 200,
      withRecipient: true,
    });
    await expect(readFile(r.out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('when the wrapped content key of KMS’s answer is altered, the worker fails the build with UNSEAL_FAILED', async () => {
    const host = await hostKey(key);
    const r = await buildWith('altered', key.fingerprint, async (doc) =>
      alterWrappedKey(await host.unseal(doc)),
    );
    expect(r.error).toHaveCode('UNSEAL_FAILED');
    await expect(readFile(r.out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('when the answer opens to another builder key than the one announced, the worker fails the build with UNSEAL_FAILED naming signing.keyFingerprint', async () => {
    const other = await hostKey(otherKey);
    const r = await buildWith('other-key', key.fingerprint, (doc) => other.unseal(doc));
    expect(r.error).toHaveCode('UNSEAL_FAILED');
    expect((r.error as { path?: string }).path).toBe('signing.keyFingerprint');
    await expect(readFile(r.out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
