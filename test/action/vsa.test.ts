/**
 * Verify mode's signed verdict through the bundled action (dist/index.js, run as the runner runs
 * it) against the GitHub API and artifact service stand-ins and the KMS stand-in (reached through
 * @aws-sdk/client-kms by endpoint): a k-of-n verification of two distinct trusted builders emits a
 * SLSA VSA with SLSA_BUILD_REPRODUCED, uploaded onto the release (local key) or as a workflow
 * artifact (KMS key); its DSSE signature is checked here with tee-compile's code and with
 * securesystemslib, and its statement against what was verified.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { runArtifacts } from '../../src/action/artifacts.js';
import { SIMULATION_ROOT, derToPem } from '../../src/attestation/index.js';
import { parseEnvelope, verifyEnvelope } from '../../src/dsse/index.js';
import { kmsClientFromEnv } from '../../src/kms/node.js';
import { sha256Hex } from '../../src/action/digest.js';
import { makeCheckout } from '../support/source/action-repo.js';
import type { World } from '../support/action/action-world.js';
import {
  REPO,
  policyJson,
  runDist,
  seedBuiltRelease,
  startWorld,
  stepContext,
  uploadBundleArtifact,
  writeToken,
} from '../support/action/action-world.js';
import { KMS_TEST_CREDENTIALS } from '../support/aws/builder-key.js';
import { BUILDERS, makeBundle } from '../support/bundles/bundle-factory.js';
import { securesystemslibVerify } from '../support/bundles/dsse-python.js';
import type { KmsStandIn } from '../support/aws/kms-standin.js';
import { tempDirSync } from '../support/temp.js';
import { startKmsStandIn } from '../support/aws/kms-standin.js';

interface Vsa {
  _type: string;
  predicateType: string;
  subject: { name: string; digest: { sha256: string } }[];
  predicate: {
    verifier: { id: string };
    resourceUri: string;
    verificationResult: string;
    verifiedLevels: string[];
    policy: { uri: string; digest: { sha256: string } };
    inputAttestations: { uri: string }[];
  };
}

let w: World;
let kms: KmsStandIn;
let work: string;
beforeAll(async () => {
  // Verify mode needs no agent: in-process ones are cheap.
  w = await startWorld({ inProcessAgents: true });
  kms = await startKmsStandIn({ roots: [SIMULATION_ROOT] });
  work = tempDirSync('tc-action-vsa-');
});
afterAll(async () => {
  await w?.stop();
  await kms?.close();
});

/** A local P-256 key: PEM private key (the secret), and the public key's DER and PEM file. */
function localKey(name: string): { pem: string; spki: Uint8Array; pubFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const pubFile = join(work, `${name}.pub`);
  writeFileSync(pubFile, derToPem(spki, 'PUBLIC KEY'));
  return { pem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })), spki, pubFile };
}

/** Checks the envelope's signature (ours and securesystemslib) and returns the statement. */
async function checkVsa(bytes: Uint8Array, spki: Uint8Array, pubFile: string): Promise<Vsa> {
  const env = parseEnvelope(bytes);
  expect(env.payloadType).toBe('application/vnd.in-toto+json');
  await verifyEnvelope(env, spki);
  const file = join(work, `checked-${sha256Hex(bytes).slice(0, 12)}.dsse.json`);
  writeFileSync(file, bytes);
  const payload = await securesystemslibVerify(file, pubFile);
  expect(Buffer.from(payload)).toEqual(Buffer.from(env.payload));
  return JSON.parse(new TextDecoder().decode(env.payload)) as Vsa;
}

/** Downloads the run's artifact `name` with the artifact client; returns its files. */
async function downloadArtifact(
  runBackendId: string,
  name: string,
): Promise<Map<string, Uint8Array>> {
  process.env.ACTIONS_RUNTIME_TOKEN = w.art.runtimeToken(w.art.job(runBackendId));
  process.env.ACTIONS_RESULTS_URL = w.art.resultsUrl;
  const store = runArtifacts();
  const found = (await store.list()).find((a) => a.name === name);
  expect(found).toBeDefined();
  const dir = mkdtempSync(join(work, 'download-'));
  await store.download(found!.id, dir);
  return new Map(
    readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))] as const),
  );
}

describe('verify mode with emit-vsa', () => {
  test('when two distinct trusted builders agree on a draft release, it attaches a signed VSA with SLSA_BUILD_REPRODUCED before publishing', async () => {
    const { releaseId } = await seedBuiltRelease(w, {
      tag: 'v7.0.0',
      builders: BUILDERS.slice(0, 2),
      draft: true,
    });
    const key = localKey('release');
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 2) });
    const r = await runDist(stepContext(w, { workspace: co.dir, sha: co.commit }), {
      mode: 'verify',
      release: 'v7.0.0',
      policy: 'policy.json',
      publish: 'true',
      'emit-vsa': 'true',
      'vsa-key': key.pem,
      'github-token': writeToken(w),
    });
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    const rel = w.gh.releasesOf(REPO).find((x) => x.id === releaseId)!;
    expect(rel.draft).toBe(false);
    const asset = rel.assets.find((a) => a.name === 'hello-v7.0.0.vsa.dsse.json')!;
    expect(asset).toBeDefined();
    const bytes = new Uint8Array(asset.bytes);
    expect(sha256Hex(bytes)).toBe(r.outputs['vsa-sha256']);
    expect(Buffer.from(readFileSync(r.outputs.vsa!)).equals(Buffer.from(bytes))).toBe(true);
    expect(r.outputs['vsa-location']).toBe(
      `${w.gh.serverUrl}/${REPO}/releases/download/v7.0.0/hello-v7.0.0.vsa.dsse.json`,
    );
    // The private key never reaches the log.
    // The private key is masked, and never printed otherwise.
    const lines = r.stdout.split('\n');
    expect(lines.filter((l) => l.startsWith('::add-mask::'))).toHaveLength(1);
    expect(lines.filter((l) => !l.startsWith('::add-mask::')).join('\n')).not.toContain(
      key.pem.split('\n')[1]!,
    );

    const vsa = await checkVsa(bytes, key.spki, key.pubFile);
    expect(vsa.predicateType).toBe('https://slsa.dev/verification_summary/v1');
    expect(vsa.predicate.verificationResult).toBe('PASSED');
    // Simulated bundles attest nothing about hardware: level 1, reproduced by two builders.
    expect(vsa.predicate.verifiedLevels).toEqual(['SLSA_BUILD_LEVEL_1', 'SLSA_BUILD_REPRODUCED']);
    expect(vsa.predicate.policy.uri).toBe('policy.json');
    expect(vsa.predicate.inputAttestations).toHaveLength(2);
    const subjects = JSON.parse(r.outputs.subjects!) as { name: string; sha256: string }[];
    expect(vsa.subject).toEqual(
      subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    );
    expect(r.summary).toContain('Signed verdict (SLSA VSA, DSSE)');
  });

  test('when a consensus job verifies a matrix’s workflow artifacts with a KMS key, it uploads the VSA as a workflow artifact signed by KMS', async () => {
    const client = await kmsClientFromEnv(kms.region, { ...KMS_TEST_CREDENTIALS }, kms.url);
    const created = await client
      .send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))
      .finally(() => client.destroy());
    const arn = created.KeyMetadata!.Arn!;
    const spki = new Uint8Array(kms.keys.get(created.KeyMetadata!.KeyId!)!.signing!.spki);
    const pubFile = join(work, 'kms.pub');
    writeFileSync(pubFile, derToPem(spki, 'PUBLIC KEY'));

    const run = w.art.job().runBackendId;
    for (const b of BUILDERS.slice(0, 2))
      await uploadBundleArtifact(
        w,
        w.art.job(run),
        `tee-compile-${b.name}`,
        (await makeBundle({ builder: b })).bytes,
      );
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 2) });
    const signsBefore = kms.calls.filter((c) => c.op === 'Sign').length;
    const r = await runDist(
      {
        ...stepContext(w, { workspace: co.dir, sha: co.commit, job: w.art.job(run) }),
        env: { AWS_ENDPOINT_URL_KMS: kms.url, ...KMS_TEST_CREDENTIALS },
      },
      {
        mode: 'verify',
        artifacts: 'tee-compile-*',
        policy: 'policy.json',
        'emit-vsa': 'true',
        'vsa-kms-key': arn,
      },
    );
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs['vsa-location']).toBe('tee-compile.vsa');
    expect(kms.calls.filter((c) => c.op === 'Sign').slice(signsBefore)).toEqual([
      { op: 'Sign', status: 200 },
    ]);
    const files = await downloadArtifact(run, 'tee-compile.vsa');
    const name = `hello-${co.commit.slice(0, 12)}.vsa.dsse.json`;
    expect([...files.keys()]).toEqual([name]);
    const bytes = files.get(name)!;
    expect(sha256Hex(bytes)).toBe(r.outputs['vsa-sha256']);
    const vsa = await checkVsa(bytes, spki, pubFile);
    expect(vsa.predicate.verificationResult).toBe('PASSED');
    expect(vsa.predicate.verifiedLevels).toContain('SLSA_BUILD_REPRODUCED');
  });

  test('when fewer builders agree than required, the step fails and the FAILED VSA goes to a workflow artifact, not the release', async () => {
    const { releaseId } = await seedBuiltRelease(w, {
      tag: 'v7.1.0',
      builders: BUILDERS.slice(0, 2),
    });
    const key = localKey('failed');
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 2) });
    const job = w.art.job();
    const r = await runDist(stepContext(w, { workspace: co.dir, sha: co.commit, job }), {
      mode: 'verify',
      release: 'v7.1.0',
      policy: 'policy.json',
      'min-builders': '3',
      'emit-vsa': 'true',
      'vsa-key': key.pem,
      'github-token': writeToken(w),
    });
    expect(r.code).toBe(1);
    expect(r.outputs.code).toBe('QUORUM_NOT_MET');
    const rel = w.gh.releasesOf(REPO).find((x) => x.id === releaseId)!;
    expect(rel.assets.some((a) => a.name.endsWith('.vsa.dsse.json'))).toBe(false);
    const files = await downloadArtifact(job.runBackendId, 'tee-compile.vsa');
    const vsa = await checkVsa([...files.values()][0]!, key.spki, key.pubFile);
    expect(vsa.predicate.verificationResult).toBe('FAILED');
    expect(vsa.predicate.verifiedLevels).toEqual([]);
  });

  test('when KMS has no such signing key, the step fails with VSA_SIGNING_FAILED', async () => {
    await seedBuiltRelease(w, { tag: 'v7.2.0', builders: BUILDERS.slice(0, 1) });
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 1) });
    const r = await runDist(
      {
        ...stepContext(w, { workspace: co.dir, sha: co.commit }),
        env: { AWS_ENDPOINT_URL_KMS: kms.url, ...KMS_TEST_CREDENTIALS },
      },
      {
        mode: 'verify',
        release: 'v7.2.0',
        policy: 'policy.json',
        'emit-vsa': 'true',
        'vsa-kms-key': `arn:aws:kms:${kms.region}:${kms.account}:key/00000000-0000-0000-0000-000000000000`,
        'github-token': writeToken(w),
      },
    );
    expect(r.code).toBe(1);
    expect(r.outputs.code).toBe('VSA_SIGNING_FAILED');
    expect(r.errors.join('\n')).toContain('KMS_KEY_NOT_FOUND');
  });
});
