/**
 * The worker refuses to hand back a bundle it cannot attest or sign: when the NSM cannot be
 * reached or refuses, the build ends with ATTESTATION_FAILED; when the host's answer to its
 * unsealing request does not open to the announced builder key, with UNSEAL_FAILED. The real
 * worker build handler and protocol, over loopback; the NSM is the software one, or one that
 * cannot be reached.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NsmClient, NsmError, SoftwareNsm } from '../../src/attestation/index.js';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { submitBuild, WorkerError } from '../../src/protocol/index.js';
import type { SubmitOptions } from '../../src/protocol/index.js';
import type { EnclaveFacts } from '../../src/worker/build.js';
import { createBuildHandler } from '../../src/worker/build.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import { connectTo, startTestWorker } from '../support/processes/build-protocol.js';
import { prepare, submissionOf } from '../support/processes/build-session.js';

const dirs: string[] = [];
const repos: TestRepo[] = [];
afterAll(async () => {
  for (const r of repos) await r.remove();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function temp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Runs one build of a small project against a worker whose NSM facts are `facts`. */
async function buildWith(
  facts: () => Promise<EnclaveFacts>,
  extra: { signing?: { keyFingerprint: string }; submit?: Partial<SubmitOptions> } = {},
): Promise<{ error: unknown; outcome: unknown; bundle: boolean }> {
  const repo = await makeRepo(goProject('echo ok > out.txt'));
  repos.push(repo);
  const inputs = await prepare(repo.dir, join(await temp('tc-attest-cache-'), 'cache'));
  const handler = createBuildHandler({
    image: { name: 'go', version: '0.1.0', language: 'go', toolchain: {} },
    facts,
    backend: 'local',
    workspace: join(await temp('tc-attest-ws-'), 'ws'),
    builderVersion: { 'tee-compile-worker': 'test' },
    env: process.env,
  });
  const worker = await startTestWorker(handler);
  try {
    const bundleFile = join(await temp('tc-attest-out-'), 'bundle.tar.gz');
    const sub = submissionOf(inputs);
    if (extra.signing) sub.signing = extra.signing;
    const error = await submitBuild(await connectTo(worker.port), sub, {
      bundleFile,
      ...extra.submit,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, outcome: await worker.outcome, bundle: existsSync(bundleFile) };
  } finally {
    await worker.close();
    await inputs.cleanup();
  }
}

async function softwareFacts(): Promise<EnclaveFacts> {
  const nsm = new NsmClient(await SoftwareNsm.create());
  return {
    nsm,
    pcrs: { pcr0: '0'.repeat(96), pcr1: '1'.repeat(96), pcr2: '2'.repeat(96) },
    nsmInfo: {},
    isolation: {},
  };
}

describe('worker attestation', () => {
  it('when the NSM cannot be used, the build ends with ATTESTATION_FAILED and no bundle', async () => {
    const facts = Promise.reject<EnclaveFacts>(new NsmError('InternalError', 'DescribeNSM'));
    facts.catch(() => undefined);
    const r = await buildWith(() => facts);
    expect(r.error).toBeInstanceOf(WorkerError);
    expect(r.error).toHaveCode('ATTESTATION_FAILED');
    expect(r.outcome).toMatchObject({ ok: false, code: 'ATTESTATION_FAILED' });
    expect(r.bundle).toBe(false);
  });

  it('when the answer to the unsealing request is not for the worker’s key, the build ends with UNSEAL_FAILED and no bundle', async () => {
    const r = await buildWith(softwareFacts, {
      signing: { keyFingerprint: `sha256:${'ab'.repeat(32)}` },
      submit: { unseal: () => Promise.resolve(new Uint8Array(randomBytes(600))) },
    });
    expect(r.error).toHaveCode('UNSEAL_FAILED');
    expect(r.outcome).toMatchObject({ ok: false, code: 'UNSEAL_FAILED' });
    expect(r.bundle).toBe(false);
  });
});
