/**
 * The KMS-sealed builder key end to end: `tee-compile kms create-builder-key` against the KMS
 * stand-in, `tee-compile build --local --sealed-key` (the worker unseals the key through the
 * Recipient exchange after the build and signs provenance.json), `tee-compile verify
 * --builder-key`, and the same envelope checked by securesystemslib.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATION_ROOT } from '../../src/attestation/index.js';
import { fileChunks } from '../../src/archive/node.js';
import { readBundle } from '../../src/bundle/index.js';
import { DEFAULT_SIMULATED_ROLE } from '../../src/enclave/local.js';
import { runCli } from '../support/cli/cli.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { securesystemslibVerify } from '../support/bundles/dsse-python.js';
import type { KmsStandIn } from '../support/aws/kms-standin.js';
import { startKmsStandIn } from '../support/aws/kms-standin.js';
import { cliEnv } from '../support/processes/sandbox-worker.js';

let work: string;
let kms: KmsStandIn;
let repo: TestRepo;
let kmsEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-bkey-'));
  kms = await startKmsStandIn({ roots: [SIMULATION_ROOT] });
  kmsEnv = {
    AWS_ENDPOINT_URL_KMS: kms.url,
    AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
    AWS_SECRET_ACCESS_KEY: 'standin-secret',
  };
  repo = await makeRepo(goProject('echo signed > out.txt'));
});
afterAll(async () => {
  await repo?.remove();
  await kms?.close();
  await rm(work, { recursive: true, force: true });
});

async function createKey(
  name: string,
  trust: string[],
): Promise<{ file: string; fingerprint: string; pem: string; kmsKeyArn: string }> {
  const file = join(work, `${name}.json`);
  const r = await runCli(
    [
      'kms',
      'create-builder-key',
      '--region',
      kms.region,
      '--account',
      kms.account,
      '--builder-role',
      DEFAULT_SIMULATED_ROLE,
      ...trust,
      '--out',
      file,
      '--json',
    ],
    { cwd: work, env: { ...process.env, ...kmsEnv } },
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const j = JSON.parse(r.stdout) as { fingerprint: string; publicKey: string; kmsKeyArn: string };
  const pem = join(work, `${name}.pem`);
  await writeFile(pem, j.publicKey);
  return { file, fingerprint: j.fingerprint, pem, kmsKeyArn: j.kmsKeyArn };
}

async function build(sealedKey: string, out: string, nonce: string) {
  return runCli(
    ['build', '--local', '--sealed-key', sealedKey, '--nonce', nonce, '--out', out, '--json'],
    { cwd: repo.dir, env: await cliEnv({ XDG_CACHE_HOME: work, ...kmsEnv }) },
  );
}

describe('a KMS-sealed builder key', () => {
  it('when the image is trusted, build --local signs provenance.json, and tee-compile and securesystemslib verify the envelope', async () => {
    const key = await createKey('trusted', ['--simulated-images']);
    const policy = kms.keys.get(key.kmsKeyArn.split('/').pop()!)!.policy!;
    expect(policy).toContain('kms:RecipientAttestation:ImageSha384');
    expect(policy).toContain('kms:RecipientAttestation:PCR3');

    const nonce = 'cd'.repeat(20);
    const out = join(work, 'signed.tar.gz');
    const r = await build(key.file, out, nonce);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { simulated: boolean; builder: { key: string | null } };
    expect(j).toMatchObject({ simulated: true, builder: { key: key.fingerprint } });
    const decrypts = kms.calls.filter((c) => c.op === 'Decrypt');
    expect(decrypts.at(-1)).toMatchObject({ status: 200, withRecipient: true });

    const v = await runCli(
      [
        'verify',
        out,
        '--allow-simulated',
        '--nonce',
        nonce,
        '--commit',
        repo.commit,
        '--builder-key',
        key.pem,
      ],
      { cwd: work },
    );
    expect(v.code).toBe(0);
    expect(v.stdout).toContain(`builder key ${key.fingerprint}`);
    expect(v.stdout).toContain('SIMULATED');

    const bundle = await readBundle(fileChunks(out));
    const envFile = join(work, 'provenance.dsse.json');
    await writeFile(envFile, bundle.envelope!);
    const payload = await securesystemslibVerify(envFile, key.pem);
    expect(Buffer.from(payload)).toEqual(Buffer.from(bundle.provenance));

    // The independent verifier refuses a signature over other bytes.
    const env = JSON.parse(await readFile(envFile, 'utf8')) as { payload: string };
    env.payload = Buffer.from('{"other":true}').toString('base64');
    await writeFile(envFile, JSON.stringify(env));
    await expect(securesystemslibVerify(envFile, key.pem)).rejects.toThrow(
      /UnverifiedSignatureError/,
    );

    // Another builder key named on the command line: refused.
    const other = await createKey('other', ['--simulated-images']);
    const v2 = await runCli(
      ['verify', out, '--allow-simulated', '--nonce', nonce, '--builder-key', other.pem, '--json'],
      { cwd: work },
    );
    expect(v2.code).toBe(1);
    expect(JSON.parse(v2.stdout)).toMatchObject({ code: 'BUILDER_KEY_MISMATCH' });
  });

  it('when KMS does not trust the image, the build fails with KMS_ACCESS_DENIED and writes no bundle', async () => {
    const key = await createKey('untrusted', ['--image-sha384', 'ab'.repeat(48)]);
    const out = join(work, 'refused.tar.gz');
    const r = await build(key.file, out, 'ef'.repeat(20));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tee-compile build: KMS_ACCESS_DENIED/);
    await expect(readFile(out)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(kms.calls.filter((c) => c.op === 'Decrypt').at(-1)).toMatchObject({
      status: 400,
      error: 'AccessDeniedException',
      withRecipient: true,
    });
  });

  it('when a host has no sealed key, the build is unsigned and verify says so', async () => {
    const out = join(work, 'unsigned.tar.gz');
    const r = await runCli(['build', '--local', '--out', out], {
      cwd: repo.dir,
      env: await cliEnv({ XDG_CACHE_HOME: work }),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('signed  no builder signature');
    const v = await runCli(['verify', out, '--allow-simulated'], { cwd: work });
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('no builder signature');
  });
});
