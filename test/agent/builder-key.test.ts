/**
 * The agent with a KMS-sealed builder key, through its HTTP API, the real pipeline and the local
 * backend, against the KMS stand-in (reached through @aws-sdk/client-kms at the endpoint of the
 * agent's `builderKey` settings): the worker asks with its attestation document, the agent calls
 * Decrypt with it as Recipient and hands CiphertextForRecipient back; the bundle's envelope
 * verifies with the published key. An image KMS does not trust fails the job with
 * KMS_ACCESS_DENIED; an agent without a key builds unsigned, as before.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openAgentBuilderKey } from '../../src/agent/builder-key.js';
import { resolveSettings } from '../../src/agent/config.js';
import { SIMULATION_ROOT } from '../../src/attestation/index.js';
import { readBundle } from '../../src/bundle/index.js';
import { formatBundleReport, singleBundleReport, verifyBundle } from '../../src/verify/index.js';
import { loadTrustPolicy } from '../../src/verify/node.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import { TEST_TOKEN, followEvents, json, removeDir, tempDir } from '../support/agent/agent-harness.js';
import { goProject, startPipelineAgent } from '../support/agent/agent-pipeline.js';
import { commitAll, writeProject, zipDir } from '../support/source/agent-sources.js';
import type { SealedKeyFile } from '../support/aws/builder-key.js';
import { KMS_TEST_CREDENTIALS, sealBuilderKey } from '../support/aws/builder-key.js';
import { runCli } from '../support/cli/cli.js';
import { securesystemslibVerify } from '../support/bundles/dsse-python.js';
import type { KmsStandIn } from '../support/aws/kms-standin.js';
import { startKmsStandIn } from '../support/aws/kms-standin.js';

let work: string;
let kms: KmsStandIn;
let zip: string;
let commit: string;
let trusted: SealedKeyFile;
let untrusted: SealedKeyFile;
const agents: TestAgent[] = [];

const nonceOf = (i: number): string => createHash('sha256').update(`bkey ${i}`).digest('hex');

/** An agent whose settings name `key` (sealedKeyFile relative to the data's parent, endpoint). */
async function agentWith(key: SealedKeyFile | null): Promise<TestAgent> {
  const a = await startPipelineAgent(
    key === null ? {} : { builderKey: { sealedKeyFile: key.file, endpoint: kms.url } },
    // The instance's credentials; no endpoint in the environment: the settings' one is used.
    { PATH: process.env.PATH, ...KMS_TEST_CREDENTIALS },
  );
  agents.push(a);
  return a;
}

async function build(
  agent: TestAgent,
  nonce: string,
): Promise<{ id: string; events: Awaited<ReturnType<typeof followEvents>>; logs: string }> {
  const form = new FormData();
  form.append('source', new Blob([await readFile(zip)]), 'source.zip');
  form.append('nonce', nonce);
  const res = await agent.fetch('/build', { method: 'POST', body: form });
  expect(res.status).toBe(202);
  const { job_id: id } = await json<{ job_id: string }>(res);
  const events = await followEvents(agent.url, id, { token: TEST_TOKEN });
  const logs = events
    .filter((e) => e.type === 'log')
    .map((e) => String(e.data.text))
    .join('\n');
  return { id, events, logs };
}

async function result(agent: TestAgent, id: string): Promise<Uint8Array> {
  const res = await agent.fetch(`/build/${id}/result`);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

async function verifyWith(bytes: Uint8Array, nonce: string, builderKey?: string) {
  const policy = await loadTrustPolicy({
    flags: { nonce, commit, allowSimulated: true, ...(builderKey ? { builderKey } : {}) },
  });
  return verifyBundle(bytes, policy, { now: Date.now() });
}

/** The lines `tee-compile verify` prints for the bundle. */
function report(r: Awaited<ReturnType<typeof verifyWith>>): string[] {
  return formatBundleReport('agent.tar.gz', singleBundleReport('agent.tar.gz', r));
}

beforeAll(async () => {
  work = await tempDir('tc-agent-bkey-');
  kms = await startKmsStandIn({ roots: [SIMULATION_ROOT] });
  trusted = await sealBuilderKey(kms, work, 'trusted');
  untrusted = await sealBuilderKey(kms, work, 'untrusted', ['ab'.repeat(48)]);
  const repo = join(work, 'repo');
  await writeProject(repo, goProject('echo signed by the agent > out.txt'));
  commit = await commitAll(repo);
  zip = join(work, 'source.zip');
  await zipDir(repo, zip);
});

afterAll(async () => {
  for (const a of agents) {
    await a.stop();
    await removeDir(a.dataDir);
  }
  await kms?.close();
  await removeDir(work);
});

describe('an agent with a sealed builder key', () => {
  it('when its image is trusted, the job unseals the key through KMS and the bundle’s envelope verifies with --builder-key', async () => {
    const agent = await agentWith(trusted);
    const decryptsBefore = kms.calls.filter((c) => c.op === 'Decrypt').length;
    const nonce = nonceOf(1);
    const { id, events, logs } = await build(agent, nonce);
    expect(events.at(-1)).toMatchObject({ type: 'complete', data: { ok: true } });
    expect(logs).toContain(`signed  builder key ${trusted.fingerprint} (provenance.dsse.json)`);
    // One Decrypt, with the worker's attestation document as Recipient, answered.
    const decrypts = kms.calls.filter((c) => c.op === 'Decrypt').slice(decryptsBefore);
    expect(decrypts).toEqual([{ op: 'Decrypt', status: 200, withRecipient: true }]);

    const bytes = await result(agent, id);
    const bundle = await readBundle(bytes);
    // The independent DSSE verifier accepts the envelope with the published key.
    const envFile = join(work, 'agent.dsse.json');
    await writeFile(envFile, bundle.envelope!);
    const payload = await securesystemslibVerify(envFile, trusted.pemFile);
    expect(Buffer.from(payload)).toEqual(Buffer.from(bundle.provenance));
    const r = await verifyWith(bytes, nonce, trusted.pem);
    expect(r).toMatchObject({ ok: true, signature: { keyFingerprint: trusted.fingerprint } });
    expect(report(r)).toContain(
      `SIMULATED   signed   builder key ${trusted.fingerprint} (provenance.dsse.json)`,
    );
    // Another published key is not the one that signed.
    const other = await verifyWith(bytes, nonce, untrusted.pem);
    expect(other).toMatchObject({ ok: false, code: 'BUILDER_KEY_MISMATCH' });
  });

  it('when KMS does not trust its image, the job fails with KMS_ACCESS_DENIED and has no result', async () => {
    const agent = await agentWith(untrusted);
    const { id, events } = await build(agent, nonceOf(2));
    expect(events.at(-1)).toMatchObject({
      type: 'complete',
      data: { ok: false, error_type: 'build_failed' },
    });
    const view = await json(await agent.fetch(`/build/${id}`));
    expect(view).toMatchObject({
      state: 'failed',
      error: { type: 'build_failed', code: 'KMS_ACCESS_DENIED' },
    });
    expect((await agent.fetch(`/build/${id}/result`)).status).toBe(409);
    expect(kms.calls.filter((c) => c.op === 'Decrypt').at(-1)).toMatchObject({
      status: 400,
      error: 'AccessDeniedException',
      withRecipient: true,
    });
  });
});

describe('an agent without a sealed key', () => {
  it('when it builds, the bundle verifies as before and the job log and the report say “no builder signature”', async () => {
    const agent = await agentWith(null);
    const nonce = nonceOf(3);
    const { id, events, logs } = await build(agent, nonce);
    expect(events.at(-1)).toMatchObject({ type: 'complete', data: { ok: true } });
    expect(logs).toContain('signed  no builder signature');
    const bytes = await result(agent, id);
    expect((await readBundle(bytes)).envelope).toBeUndefined();
    const r = await verifyWith(bytes, nonce);
    expect(r).toMatchObject({ ok: true, signature: null });
    expect(report(r)).toContain('SIMULATED   signed   no builder signature');
    // A verifier that requires the builder's key refuses it.
    expect(await verifyWith(bytes, nonce, trusted.pem)).toMatchObject({
      ok: false,
      code: 'BUILDER_SIGNATURE_MISSING',
    });
  });
});

describe('the builderKey settings', () => {
  it('when the configuration file names the sealed key relative to itself, it is resolved there', async () => {
    const { readConfigFile } = await import('../../src/agent/config.js');
    const cfg = join(work, 'agent.json');
    await writeFile(cfg, JSON.stringify({ builderKey: { sealedKeyFile: 'trusted.json' } }));
    const file = await readConfigFile(cfg);
    const s = await resolveSettings({ ...file, dataDir: work }, {}, { cwd: '/' });
    expect(s.builderKey).toEqual({ sealedKeyFile: trusted.file });
    const none = await resolveSettings({ dataDir: work }, {}, { cwd: '/' });
    expect(none.builderKey).toBeNull();
  });

  it('when the sealed key file is missing, it is AGENT_CONFIG_INVALID naming the field; when malformed, SEALED_KEY_INVALID', async () => {
    await expect(
      openAgentBuilderKey({ sealedKeyFile: join(work, 'absent.json') }, {}),
    ).rejects.toMatchObject({ code: 'AGENT_CONFIG_INVALID', path: 'builderKey.sealedKeyFile' });
    const bad = join(work, 'bad.json');
    await writeFile(bad, '{"version": 1}');
    await expect(openAgentBuilderKey({ sealedKeyFile: bad }, {})).rejects.toMatchObject({
      code: 'SEALED_KEY_INVALID',
    });
  });

  it('when `tee-compile agent --sealed-key` names a malformed or missing file, the agent does not start (exit 2) and logs the code', async () => {
    const bad = join(work, 'bad-cli.json');
    await writeFile(bad, '{"version": 1}');
    for (const [file, code] of [
      [bad, 'SEALED_KEY_INVALID'],
      [join(work, 'absent-cli.json'), 'AGENT_CONFIG_INVALID'],
    ] as const) {
      const r = await runCli(
        [
          'agent',
          '--backend',
          'local',
          '--listen',
          '127.0.0.1:0',
          '--data-dir',
          work,
          '--sealed-key',
          file,
        ],
        { cwd: work },
      );
      expect(r.code).toBe(2);
      const logged = r.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logged.at(-1)).toMatchObject({ level: 'error', code });
    }
  });

  it('when the endpoint is not an http(s) URL, the configuration is refused naming it', async () => {
    const { AgentConfigFileSchema } = await import('../../src/agent/config.js');
    const r = AgentConfigFileSchema.safeParse({
      builderKey: { sealedKeyFile: 'k.json', endpoint: 'file:///etc/passwd' },
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['builderKey', 'endpoint']);
  });
});
