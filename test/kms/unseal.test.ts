import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import { NsmClient, SIMULATION_ROOT, SoftwareNsm } from '../../src/attestation/index.js';
import { importP256PrivateKey, keyFingerprint } from '../../src/dsse/index.js';
import type { SealedBuilderKey } from '../../src/kms/index.js';
import {
  builderKeyPolicy,
  formatSealedKey,
  newRecipientKey,
  openForRecipient,
  parseSealedKey,
} from '../../src/kms/index.js';
import { createBuilderKey, kmsClient, kmsFailure, kmsUnsealer } from '../../src/kms/node.js';
import { fromHex } from '../../src/util/hex.js';
import type { KmsStandIn } from '../support/aws/kms-standin.js';
import { startKmsStandIn } from '../support/aws/kms-standin.js';

const TRUSTED_PCR0 = 'a1'.repeat(48);
const ROLE = 'arn:aws:iam::111122223333:role/builder';

let kms: KmsStandIn;
let client: KMSClient;
let sealed: SealedBuilderKey;

process.env.AWS_ACCESS_KEY_ID = 'AKIDSTANDIN';
process.env.AWS_SECRET_ACCESS_KEY = 'standin-secret';

beforeAll(async () => {
  kms = await startKmsStandIn({ roots: [SIMULATION_ROOT] });
  client = await kmsClient({ region: kms.region, endpoint: kms.url });
  const policy = builderKeyPolicy({
    account: kms.account,
    builderRole: ROLE,
    images: [TRUSTED_PCR0],
  });
  sealed = (await createBuilderKey(client, { region: kms.region }, policy)).sealed;
});
afterAll(async () => {
  client?.destroy();
  await kms?.close();
});

async function enclaveAttestation(pcr0: string, publicKey: Uint8Array): Promise<Uint8Array> {
  const nsm = await SoftwareNsm.create({ pcrs: new Map([[0, fromHex(pcr0)]]) });
  return new NsmClient(nsm).attest({ publicKey });
}

describe('the sealed builder key', () => {
  it('when created, the stand-in saw CreateKey, PutKeyPolicy and GenerateDataKeyPairWithoutPlaintext', () => {
    expect(kms.calls.slice(0, 3).map((c) => c.op)).toEqual([
      'CreateKey',
      'PutKeyPolicy',
      'GenerateDataKeyPairWithoutPlaintext',
    ]);
  });

  it('when its file is written and read back, it is the same key', async () => {
    const back = await parseSealedKey(formatSealedKey(sealed));
    expect(back).toEqual(sealed);
  });

  it('when the file names another fingerprint, it is refused with SEALED_KEY_INVALID', async () => {
    const text = formatSealedKey({ ...sealed, fingerprint: `sha256:${'0'.repeat(64)}` });
    await expect(parseSealedKey(text)).rejects.toHaveCode('SEALED_KEY_INVALID');
  });

  it('when a trusted image asks, KMS answers CiphertextForRecipient that only its key opens', async () => {
    const rk = newRecipientKey();
    const ct = await kmsUnsealer(client, sealed)(await enclaveAttestation(TRUSTED_PCR0, rk.spki));
    const pkcs8 = await openForRecipient(ct, rk);
    const { spki } = await importP256PrivateKey(pkcs8);
    expect(await keyFingerprint(spki)).toBe(sealed.fingerprint);
    expect(kms.calls.at(-1)).toMatchObject({ op: 'Decrypt', status: 200, withRecipient: true });
    await expect(openForRecipient(ct, newRecipientKey())).rejects.toHaveCode(
      'UNSEAL_RESPONSE_INVALID',
    );
  });

  it('when the sealed key names a KMS key that does not exist, it is KMS_KEY_NOT_FOUND', async () => {
    const rk = newRecipientKey();
    const doc = await enclaveAttestation(TRUSTED_PCR0, rk.spki);
    const gone = {
      ...sealed,
      kmsKeyArn: sealed.kmsKeyArn.replace(/key\/.*$/, 'key/00000000-0000-4000-8000-000000000000'),
    };
    await expect(kmsUnsealer(client, gone)(doc)).rejects.toHaveCode('KMS_KEY_NOT_FOUND');
  });

  it('when KMS fails otherwise (throttled, unavailable), it is KMS_REQUEST_FAILED naming the call', () => {
    for (const name of [
      'ThrottlingException',
      'KMSInternalException',
      'DependencyTimeoutException',
    ])
      expect(kmsFailure(Object.assign(new Error('try later'), { name }), 'Decrypt')).toMatchObject({
        code: 'KMS_REQUEST_FAILED',
      });
  });

  it('when the key policy is asked for with a malformed account, role or image, it is KEY_POLICY_INVALID naming the field', () => {
    const good = { account: kms.account, builderRole: ROLE, images: [TRUSTED_PCR0] };
    const cases: [Partial<Parameters<typeof builderKeyPolicy>[0]>, string][] = [
      [{ account: '1234' }, 'account'],
      [{ builderRole: 'arn:aws:sts::111122223333:assumed-role/builder/x' }, 'builderRole'],
      [{ images: [] }, 'images'],
      [{ images: ['AB'.repeat(48)] }, 'images.0'],
      [{ pcr3: 'zz' }, 'pcr3'],
    ];
    for (const [over, path] of cases) {
      let caught: unknown;
      try {
        builderKeyPolicy({ ...good, ...over });
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ code: 'KEY_POLICY_INVALID', path });
    }
  });

  it('when another image asks, KMS denies it: KMS_ACCESS_DENIED', async () => {
    const rk = newRecipientKey();
    const doc = await enclaveAttestation('b2'.repeat(48), rk.spki);
    await expect(kmsUnsealer(client, sealed)(doc)).rejects.toHaveCode('KMS_ACCESS_DENIED');
  });

  it('when the host asks without a recipient, KMS denies it (the condition keys are absent)', async () => {
    const { DecryptCommand } = await import('@aws-sdk/client-kms');
    await expect(
      client.send(new DecryptCommand({ CiphertextBlob: sealed.encryptedPrivateKey })),
    ).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('when the sealed private key was altered, KMS refuses it: KMS_CIPHERTEXT_INVALID', async () => {
    const blob = sealed.encryptedPrivateKey.slice();
    blob[blob.length - 1]! ^= 1;
    const doc = await enclaveAttestation(TRUSTED_PCR0, newRecipientKey().spki);
    await expect(
      kmsUnsealer(client, { ...sealed, encryptedPrivateKey: blob })(doc),
    ).rejects.toHaveCode('KMS_CIPHERTEXT_INVALID');
  });

  it('when CiphertextForRecipient is altered, the enclave refuses it: UNSEAL_RESPONSE_INVALID', async () => {
    const rk = newRecipientKey();
    const ct = await kmsUnsealer(client, sealed)(await enclaveAttestation(TRUSTED_PCR0, rk.spki));
    // At 10: the CMS structure. At length - 17: the last byte of the next-to-last AES-CBC block,
    // which flips the last plaintext byte, the padding length, to 0x41..0x50: never valid. (CBC
    // carries no integrity: a flip elsewhere in the content can decrypt to other key bytes, which
    // the worker then refuses by the announced fingerprint, UNSEAL_FAILED.)
    for (const at of [10, ct.length - 17]) {
      const bad = ct.slice();
      bad[at]! ^= 0x40;
      await expect(openForRecipient(bad, rk)).rejects.toHaveCode('UNSEAL_RESPONSE_INVALID');
    }
  });

  it('when OpenSSL writes the EnvelopedData (BER, streamed), the enclave opens it too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cms-'));
    try {
      const rk = newRecipientKey();
      writeFileSync(join(dir, 'key.pem'), rk.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const ossl = (...a: string[]): void =>
        void execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
      ossl(
        'req',
        '-x509',
        '-new',
        '-key',
        'key.pem',
        '-subj',
        '/CN=r',
        '-days',
        '1',
        '-out',
        'cert.pem',
      );
      writeFileSync(join(dir, 'msg'), 'sealed bytes');
      ossl(
        'cms',
        '-encrypt',
        '-binary',
        '-stream',
        '-aes-256-cbc',
        '-in',
        'msg',
        '-outform',
        'DER',
        '-out',
        'out.der',
        '-recip',
        'cert.pem',
        '-keyopt',
        'rsa_padding_mode:oaep',
        '-keyopt',
        'rsa_oaep_md:sha256',
        '-keyopt',
        'rsa_mgf1_md:sha256',
      );
      const out = await openForRecipient(new Uint8Array(readFileSync(join(dir, 'out.der'))), rk);
      expect(new TextDecoder().decode(out)).toBe('sealed bytes');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
