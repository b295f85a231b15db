/**
 * `verify --emit-vsa`: a k-of-n verification writes a SLSA VSA in a DSSE envelope, signed with a
 * local key or a KMS key (the stand-in through the real SDK); the signature is checked here with
 * tee-compile's DSSE code and with securesystemslib.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { SIMULATION_ROOT, pemToDer } from '../../src/attestation/index.js';
import { parseEnvelope, verifyEnvelope } from '../../src/dsse/index.js';
import { kmsClient } from '../../src/kms/aws.js';
import { BUILDERS, makeBundle } from '../support/bundles/bundle-factory.js';
import { runCli } from '../support/cli/cli.js';
import { securesystemslibVerify } from '../support/bundles/dsse-python.js';
import type { KmsStandIn } from '../support/aws/kms-standin.js';
import { startKmsStandIn } from '../support/aws/kms-standin.js';

let work: string;
let bundles: string[];
let kms: KmsStandIn;

process.env.AWS_ACCESS_KEY_ID ??= 'AKIDSTANDIN';
process.env.AWS_SECRET_ACCESS_KEY ??= 'standin-secret';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-vsa-'));
  kms = await startKmsStandIn({ roots: [SIMULATION_ROOT] });
  bundles = [];
  for (const b of BUILDERS.slice(0, 2)) {
    const file = join(work, `${b.name}.tar.gz`);
    await writeFile(file, (await makeBundle({ builder: b })).bytes);
    bundles.push(file);
  }
});
afterAll(async () => {
  await kms?.close();
  await rm(work, { recursive: true, force: true });
});

interface Vsa {
  predicateType: string;
  subject: { name: string }[];
  predicate: {
    verificationResult: string;
    verifiedLevels: string[];
    policy: { digest: { sha256: string } };
  };
}

async function checkVsa(file: string, spki: Uint8Array, pemFile: string): Promise<Vsa> {
  const env = parseEnvelope(new Uint8Array(await readFile(file)));
  await verifyEnvelope(env, spki);
  await securesystemslibVerify(file, pemFile);
  return JSON.parse(new TextDecoder().decode(env.payload)) as Vsa;
}

describe('verify --emit-vsa', () => {
  it('when two distinct builders agree, it writes a signed VSA with SLSA_BUILD_REPRODUCED', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = join(work, 'vsa.key');
    const pubFile = join(work, 'vsa.pub');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
    const out = join(work, 'vsa.dsse.json');
    const r = await runCli(
      [
        'verify',
        ...bundles,
        '--allow-simulated',
        '--min-builders',
        '2',
        '--emit-vsa',
        out,
        '--vsa-key',
        keyFile,
      ],
      { cwd: work },
    );
    expect(r.code).toBe(0);
    const vsa = await checkVsa(
      out,
      pemToDer(await readFile(pubFile, 'utf8'), 'PUBLIC KEY'),
      pubFile,
    );
    expect(vsa.predicateType).toBe('https://slsa.dev/verification_summary/v1');
    expect(vsa.predicate.verificationResult).toBe('PASSED');
    expect(vsa.predicate.verifiedLevels).toContain('SLSA_BUILD_REPRODUCED');
    expect(vsa.predicate.policy.digest.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(vsa.subject.length).toBeGreaterThan(0);
  });

  it('when one bundle is verified, the VSA passes without SLSA_BUILD_REPRODUCED, signed by KMS', async () => {
    const client = await kmsClient({ region: kms.region, endpoint: kms.url });
    const key = await client.send(
      new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }),
    );
    client.destroy();
    const arn = key.KeyMetadata!.Arn!;
    const spki = kms.keys.get(key.KeyMetadata!.KeyId!)!.signing!.spki;
    const pubFile = join(work, 'kms.pub');
    await writeFile(
      pubFile,
      `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PUBLIC KEY-----\n`,
    );
    const out = join(work, 'one.dsse.json');
    const r = await runCli(
      ['verify', bundles[0]!, '--allow-simulated', '--emit-vsa', out, '--vsa-kms-key', arn],
      {
        cwd: work,
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_KMS: kms.url,
          AWS_ACCESS_KEY_ID: 'AKID',
          AWS_SECRET_ACCESS_KEY: 's',
        },
      },
    );
    expect(r.code).toBe(0);
    const vsa = await checkVsa(out, new Uint8Array(spki), pubFile);
    expect(vsa.predicate.verifiedLevels).not.toContain('SLSA_BUILD_REPRODUCED');
    expect(kms.calls.filter((c) => c.op === 'Sign').at(-1)).toMatchObject({ status: 200 });
  });
});
