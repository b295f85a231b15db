/**
 * `run(inputs, deps)` over the stand-ins (GitHub's API and artifact service through the real
 * Octokit and @actions/artifact clients) and an agent: the branches of publishing, the agent's
 * failures, cancellation and verify mode.
 */
import { createHash } from 'node:crypto';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { RunResult } from '../../src/action/deps.js';
import type { BuildInputs } from '../../src/action/inputs.js';
import { artifactAssetNames } from '../../src/action/naming.js';
import type { BuildContext, BuildJob, BuildOutcome } from '../../src/agent/executor.js';
import { FactoryExecutor, agentJobState } from '../support/action/action-agent.js';
import { StandInBackend } from '../support/agent/agent-fakes.js';
import { removeDir, startTestAgent } from '../support/agent/agent-harness.js';
import { makeCheckout, simpleBuildJson } from '../support/source/action-repo.js';
import type { World } from '../support/action/action-world.js';
import {
  REPO,
  policyJson,
  runInProcess,
  seedBuiltRelease,
  startWorld,
  stepContext,
  uploadBundleArtifact,
  writeToken,
} from '../support/action/action-world.js';
import { BUILDERS, defaultOutputs, makeBundle } from '../support/bundles/bundle-factory.js';
import { tempDirSync } from '../support/temp.js';

const HELLO = 'hello from the enclave\n';
const VERSION = '1.0.0\n';

let w: World;
beforeAll(async () => {
  w = await startWorld({ inProcessAgents: true });
});
afterAll(async () => {
  await w?.stop();
});

function tagged(tag: string, files: Record<string, string> = {}) {
  const co = makeCheckout(files, { tag });
  return {
    co,
    ctx: stepContext(w, { workspace: co.dir, sha: co.commit, ref: `refs/tags/${tag}` }),
  };
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function agentInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'agent-url': w.agent.url,
    'agent-token': w.agent.token,
    'allow-simulated': 'true',
    'github-token': writeToken(w),
    ...extra,
  };
}

/** The human message of a failed run (its code is asserted apart). */
function failure(result: RunResult): string {
  if (result.ok) throw new Error('expected a failed run');
  return result.failure;
}

function release(tag: string) {
  const all = w.gh.releasesOf(REPO).filter((r) => r.tagName === tag);
  expect(all).toHaveLength(1);
  return all[0]!;
}

function uploadsOf(releaseId: number): string[] {
  return w.gh.requests
    .filter(
      (r) =>
        r.server === 'uploads' && r.path.startsWith(`/repos/${REPO}/releases/${releaseId}/assets`),
    )
    .map((r) => new URL(r.path, 'http://x').searchParams.get('name') ?? '');
}

describe('build mode: the release', () => {
  test("when no release exists, it creates a draft holding the artifacts and this builder's evidence", async () => {
    const { co, ctx } = tagged('v1.0.0', { 'policy.json': policyJson(BUILDERS, 1) });
    const { result, inputs } = await runInProcess(ctx, agentInputs({ policy: 'policy.json' }));
    expect(result.ok).toBe(true);
    const rel = release('v1.0.0');
    expect(rel.draft).toBe(true);
    expect(rel.targetCommitish).toBe(co.commit);
    expect(rel.assets.map((a) => a.name).sort()).toEqual([
      'VERSION',
      'hello-v1.0.0.alpha.attestation.cbor',
      'hello-v1.0.0.alpha.bundle.tar.gz',
      'hello-v1.0.0.alpha.provenance.json',
      'hello.txt',
    ]);
    expect(rel.assets.find((a) => a.name === 'hello.txt')!.bytes.toString()).toBe(HELLO);
    expect(result.outputs.verified).toBe('true');
    expect(JSON.parse(result.outputs.subjects!)).toEqual([
      { name: 'out/VERSION', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      { name: 'out/hello.txt', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    const check = w.gh.checkRunsOf(REPO).at(-1)!;
    expect(check).toMatchObject({
      name: 'attested build',
      headSha: co.commit,
      status: 'completed',
      conclusion: 'success',
    });
    expect(check.output.summary).toContain(
      `npx tee-compile verify hello-v1.0.0.alpha.bundle.tar.gz --repo https://github.com/${REPO} --commit ${co.commit} --nonce ${(inputs as BuildInputs).nonce} --policy policy.json --allow-simulated`,
    );
  });

  test('when a draft of the tag exists, it uploads to that draft and creates none', async () => {
    const seeded = w.gh.seedRelease(REPO, { tag: 'v1.1.0', draft: true });
    const { ctx } = tagged('v1.1.0');
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result.ok).toBe(true);
    expect(release('v1.1.0').id).toBe(seeded.id);
    expect(seeded.assets.map((a) => a.name)).toContain('hello.txt');
  });

  test('when another builder created a draft of the tag at the same moment, it settles on the older one', async () => {
    const older = w.gh.seedRelease(REPO, { tag: 'v1.1.1', draft: true });
    const { ctx } = tagged('v1.1.1');
    let calls = 0;
    const { result } = await runInProcess(ctx, agentInputs(), {
      // The other builder's draft is not listed yet when this one looks first.
      github: (api) => ({
        ...api,
        findRelease: (repo, tag) =>
          calls++ === 0 ? Promise.resolve(null) : api.findRelease(repo, tag),
      }),
    });
    expect(result.ok).toBe(true);
    expect(release('v1.1.1').id).toBe(older.id);
    expect(older.assets.map((a) => a.name)).toContain('hello.txt');
  });

  test('when a published release already has the artifacts with the same bytes, it keeps them', async () => {
    const seeded = w.gh.seedRelease(REPO, {
      tag: 'v1.2.0',
      assets: [
        { name: 'hello.txt', bytes: Buffer.from(HELLO) },
        { name: 'VERSION', bytes: Buffer.from(VERSION) },
      ],
    });
    const ids = seeded.assets.map((a) => a.id);
    const { ctx } = tagged('v1.2.0');
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result.ok).toBe(true);
    expect(uploadsOf(seeded.id).sort()).toEqual([
      expect.stringMatching(/\.attestation\.cbor$/),
      expect.stringMatching(/\.bundle\.tar\.gz$/),
      expect.stringMatching(/\.provenance\.json$/),
    ]);
    expect(
      seeded.assets
        .filter((a) => ids.includes(a.id))
        .map((a) => a.name)
        .sort(),
    ).toEqual(['VERSION', 'hello.txt']);
    expect(result.summary).toMatch(/`hello.txt` \| `[0-9a-f]{64}` \| kept/);
    // It ends with the verify page opened on the release's bundle asset.
    expect(result.summary.trimEnd().split('\n').at(-1)).toMatch(
      /^Or \[check it in your browser\]\(https:\/\/tee-compile\.github\.io\/tee-compile\/\?bundle=[^)]*%2Freleases%2Fdownload%2Fv1\.2\.0%2F[^)]*\.bundle\.tar\.gz&nonce=[0-9a-f]+&commit=[0-9a-f]{40}\)/,
    );
  });

  test('when a published release has an artifact with other bytes, it refuses before changing anything', async () => {
    const seeded = w.gh.seedRelease(REPO, {
      tag: 'v1.3.0',
      assets: [{ name: 'hello.txt', bytes: Buffer.from('other\n') }],
    });
    const { ctx } = tagged('v1.3.0');
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ ok: false, code: 'RELEASE_CONFLICT' });
    expect(uploadsOf(seeded.id)).toEqual([]);
    expect(seeded.assets.map((a) => a.bytes.toString())).toEqual(['other\n']);
    expect(result.outputs.verified).toBe('false');
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ conclusion: 'failure' });
  });

  test('when a draft has an artifact with other bytes (a re-run after a change), it replaces it', async () => {
    const seeded = w.gh.seedRelease(REPO, {
      tag: 'v1.4.0',
      draft: true,
      assets: [{ name: 'hello.txt', bytes: Buffer.from('old\n') }],
    });
    const oldId = seeded.assets[0]!.id;
    const { ctx } = tagged('v1.4.0');
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result.ok).toBe(true);
    const hello = seeded.assets.filter((a) => a.name === 'hello.txt');
    expect(hello).toHaveLength(1);
    expect(hello[0]!.id).not.toBe(oldId);
    expect(hello[0]!.bytes.toString()).toBe(HELLO);
  });

  test('when another builder attached an artifact with other bytes, it leaves it for the consensus and warns', async () => {
    const seeded = w.gh.seedRelease(REPO, {
      tag: 'v1.5.0',
      draft: true,
      assets: [
        { name: 'hello.txt', bytes: Buffer.from('the other builder\n') },
        { name: 'hello-v1.5.0.beta.bundle.tar.gz', bytes: Buffer.from('beta') },
      ],
    });
    const { ctx } = tagged('v1.5.0');
    const { result, log } = await runInProcess(ctx, agentInputs());
    expect(result.ok).toBe(true);
    expect(seeded.assets.find((a) => a.name === 'hello.txt')!.bytes.toString()).toBe(
      'the other builder\n',
    );
    expect(log.warnings.join('\n')).toContain(
      'another builder attached hello.txt with other bytes',
    );
    expect(seeded.assets.filter((a) => a.name.endsWith('.bundle.tar.gz'))).toHaveLength(2);
  });

  test('when the release is published and immutable, it refuses to add assets and says how to release instead', async () => {
    const iw = await startWorld({ immutableReleases: true, inProcessAgents: true });
    try {
      const seeded = iw.gh.seedRelease(REPO, { tag: 'v2.0.0' });
      expect(seeded.immutable).toBe(true);
      const co = makeCheckout({}, { tag: 'v2.0.0' });
      const ctx = stepContext(iw, { workspace: co.dir, sha: co.commit, ref: 'refs/tags/v2.0.0' });
      const { result } = await runInProcess(ctx, {
        'agent-url': iw.agent.url,
        'agent-token': iw.agent.token,
        'allow-simulated': 'true',
        'github-token': writeToken(iw),
      });
      expect(result).toMatchObject({ ok: false, code: 'RELEASE_CONFLICT' });
      // It names the fix: the input that creates a draft and publishes it after the uploads.
      expect(failure(result)).toContain('publish: true');
      expect(iw.gh.requests.filter((r) => r.server === 'uploads')).toEqual([]);
    } finally {
      await iw.stop();
    }
  });

  test('when publish is true, it publishes the draft after every upload', async () => {
    const { ctx } = tagged('v1.6.0');
    const { result } = await runInProcess(ctx, agentInputs({ publish: 'true' }));
    expect(result.ok).toBe(true);
    const rel = release('v1.6.0');
    expect(rel.draft).toBe(false);
    const order = w.gh.requests.filter(
      (r) =>
        (r.server === 'uploads' && r.path.includes(`/releases/${rel.id}/`)) ||
        (r.method === 'PATCH' && r.path.endsWith(`/releases/${rel.id}`)),
    );
    expect(order.at(-1)!.method).toBe('PATCH');
    expect(order.filter((r) => r.server === 'uploads')).toHaveLength(5);
  });
});

describe('build mode: other destinations', () => {
  test('when upload is none, it only writes the check run to GitHub and keeps the bundle on the runner', async () => {
    const { ctx } = tagged('v3.0.0');
    const before = w.gh.requests.length;
    const { result } = await runInProcess(ctx, agentInputs({ upload: 'none' }));
    expect(result.ok).toBe(true);
    expect(
      w.gh.requests.slice(before).map((r) => `${r.method} ${r.path.replace(/\d+$/, 'N')}`),
    ).toEqual([`POST /repos/${REPO}/check-runs`, `PATCH /repos/${REPO}/check-runs/N`]);
    expect(result.outputs.bundle).toMatch(/hello-v3\.0\.0\.pcr3-[0-9a-f]{12}\.bundle\.tar\.gz$/);
  });

  test('when the event is a pull request, it uploads a workflow artifact and checks the head commit', async () => {
    const co = makeCheckout();
    const head = co.commit;
    const job = w.art.job();
    const ctx = stepContext(w, {
      workspace: co.dir,
      sha: co.commit,
      ref: 'refs/pull/9/merge',
      eventName: 'pull_request',
      event: { pull_request: { number: 9, head: { sha: head } } },
      job,
    });
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result.ok).toBe(true);
    const [artifact] = w.art.artifactsOf(job.runBackendId);
    expect(artifact!.name).toMatch(/^tee-compile-pcr3-[0-9a-f]{12}$/);
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ headSha: head, conclusion: 'success' });
    expect(result.summary).toContain(
      `gh run download 4242 --repo ${REPO} --name ${artifact!.name}`,
    );
  });

  test('when the token may not write checks, it still succeeds and says why there is no check run', async () => {
    const { ctx } = tagged('v3.1.0');
    const token = w.gh.token({ repo: REPO, contents: 'write' });
    const { result, log } = await runInProcess(ctx, agentInputs({ 'github-token': token }));
    expect(result.ok).toBe(true);
    expect(log.warnings.join('\n')).toContain(
      'no check run: creating the check run: HTTP 403 Resource not accessible by integration',
    );
  });

  test('when github-token is empty and nothing goes to a release, it builds without a check run', async () => {
    const { ctx } = tagged('v3.3.0');
    const before = w.gh.requests.length;
    const { result } = await runInProcess(ctx, agentInputs({ 'github-token': '', upload: 'none' }));
    expect(result.ok).toBe(true);
    expect(w.gh.requests.length).toBe(before);
  });

  test('when build.json has another name at the root, it sends its committed text as the config', async () => {
    const { ctx } = tagged('v3.2.0', {
      'release.build.json': simpleBuildJson({ output: { files: ['out/hello.txt'] } }),
    });
    const { result } = await runInProcess(
      ctx,
      agentInputs({ config: 'release.build.json', upload: 'none' }),
    );
    expect(result.ok).toBe(true);
    expect(JSON.parse(result.outputs.subjects!)).toEqual([
      { name: 'out/hello.txt', sha256: expect.any(String) },
    ]);
  });
});

describe('build mode: where build.json is', () => {
  /** The agent's view of the job the step submitted. */
  async function agentJob(log: { lines: string[] }): Promise<Record<string, unknown>> {
    const jobId = /agent job (\S+)/.exec(log.lines.join('\n'))![1]!;
    const res = await fetch(`${w.agent.url}/build/${jobId}`, {
      headers: { Authorization: `Bearer ${w.agent.token}` },
    });
    return (await res.json()) as Record<string, unknown>;
  }

  const greeting = (dir: string) =>
    simpleBuildJson({
      input: { cmd: `mkdir -p out && printf "hello from ${dir}\\n" > out/greeting.txt` },
      output: { files: ['out/greeting.txt'] },
    });

  test('when config is the build.json of a subdirectory, the agent builds there and records this repository', async () => {
    const { ctx } = tagged('v5.0.0', { 'examples/hello/build.json': greeting('examples/hello') });
    const { result, log } = await runInProcess(
      ctx,
      agentInputs({ config: 'examples/hello/build.json', upload: 'none' }),
    );
    expect(result.ok).toBe(true);
    // Not the root's build.json (out/hello.txt, out/VERSION): the subdirectory's, named from the root.
    expect(JSON.parse(result.outputs.subjects!)).toEqual([
      { name: 'examples/hello/out/greeting.txt', sha256: expect.any(String) },
    ]);
    expect(await agentJob(log)).toMatchObject({
      state: 'succeeded',
      source: { workdir: 'examples/hello', repository: `https://github.com/${REPO}` },
    });
    expect(log.lines).toContain(
      'build.json in examples/hello (examples/hello/build.json): the build runs there',
    );
    expect(result.summary).toContain(`- **Source repository:** \`https://github.com/${REPO}\``);
    expect(result.summary).toMatch(
      /--repo https:\/\/github\.com\/example\/hello --commit [0-9a-f]{40} /,
    );
  });

  test('when config has another name in a subdirectory, its committed text is sent as the config of that directory', async () => {
    const { ctx } = tagged('v5.1.0', { 'tools/gen/tee.json': greeting('tools/gen') });
    const { result, log } = await runInProcess(
      ctx,
      agentInputs({ config: 'tools/gen/tee.json', upload: 'none' }),
    );
    expect(result.ok).toBe(true);
    expect(JSON.parse(result.outputs.subjects!)).toEqual([
      { name: 'tools/gen/out/greeting.txt', sha256: expect.any(String) },
    ]);
    expect(await agentJob(log)).toMatchObject({ source: { workdir: 'tools/gen' } });
  });

  test('when the directory of config is a symbolic link in the commit, it fails naming config and sends nothing', async () => {
    const { co } = tagged('v5.2.0', { 'examples/hello/build.json': greeting('examples/hello') });
    symlinkSync('hello', join(co.dir, 'examples', 'link'));
    co.commit_('link');
    const ctx = stepContext(w, { workspace: co.dir, sha: co.commit, ref: 'refs/tags/v5.2.0' });
    const { result, log } = await runInProcess(
      ctx,
      agentInputs({ config: 'examples/link/build.json', upload: 'none' }),
    );
    expect(result).toMatchObject({ ok: false, code: 'CONFIG_INVALID' });
    expect(failure(result)).toContain('examples/link');
    expect(log.lines.join('\n')).not.toContain('agent job');
  });

  test('when GITHUB_SERVER_URL and GITHUB_REPOSITORY make no repository URL, it fails naming the variable before anything runs', async () => {
    const { co } = tagged('v5.3.0');
    const ctx = stepContext(w, {
      workspace: co.dir,
      sha: co.commit,
      ref: 'refs/tags/v5.3.0',
      serverUrl: 'http://localhost:8080',
    });
    const before = w.gh.requests.length;
    const { result } = await runInProcess(ctx, agentInputs({ upload: 'none', 'github-token': '' }));
    expect(result).toMatchObject({ ok: false, code: 'INPUT_INVALID', path: 'GITHUB_SERVER_URL' });
    expect(w.gh.requests.length).toBe(before);
  });
});

describe('build mode: failures', () => {
  test('when the agent cannot be reached, it fails naming the agent and publishes nothing', async () => {
    const { ctx } = tagged('v4.0.0');
    const port = await closedPort();
    const { result } = await runInProcess(
      ctx,
      agentInputs({ 'agent-url': `http://127.0.0.1:${port}` }),
    );
    expect(result).toMatchObject({ ok: false, code: 'AGENT_UNREACHABLE' });
    expect(failure(result)).toContain(`http://127.0.0.1:${port}`);
    expect(w.gh.releasesOf(REPO).filter((r) => r.tagName === 'v4.0.0')).toEqual([]);
  });

  test('when the agent refuses the token, it says so and points at agent-token', async () => {
    const { ctx } = tagged('v4.1.0');
    const { result } = await runInProcess(
      ctx,
      agentInputs({ 'agent-token': 'wrong-token-0123456789' }),
    );
    expect(result).toMatchObject({ ok: false, code: 'AGENT_REJECTED' });
    expect(failure(result)).toContain('agent-token');
  });

  test('when the build fails on the agent, it reports the failure and publishes nothing', async () => {
    const { ctx } = tagged('v4.2.0', {
      'build.json': simpleBuildJson({ input: { cmd: 'echo broken >&2; exit 3' } }),
    });
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result).toMatchObject({ ok: false, code: 'BUILD_FAILED' });
    expect(result.outputs).toEqual({ verified: 'false', code: 'BUILD_FAILED' });
    expect(w.gh.releasesOf(REPO).filter((r) => r.tagName === 'v4.2.0')).toEqual([]);
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ conclusion: 'failure' });
  });

  test('when the bundle is simulated and simulation is not allowed, it is refused and nothing is published', async () => {
    const { ctx } = tagged('v4.3.0');
    const { result } = await runInProcess(ctx, agentInputs({ 'allow-simulated': 'false' }));
    expect(result).toMatchObject({ ok: false, code: 'BUNDLE_REFUSED' });
    // The verifier's refusal, and the input that accepts simulated attestations.
    expect(failure(result)).toContain('SIMULATED_NOT_ALLOWED');
    expect(failure(result)).toContain('allow-simulated: true');
    expect(w.gh.releasesOf(REPO).filter((r) => r.tagName === 'v4.3.0')).toEqual([]);
  });

  test('when the bundle records another repository than this one, it is refused and nothing is published', async () => {
    // An agent that records what it likes: the action's own check must catch it.
    class OtherRepository extends FactoryExecutor {
      override run(job: BuildJob, ctx: BuildContext): Promise<BuildOutcome> {
        return super.run({ ...job, repository: 'https://github.com/someone/else' }, ctx);
      }
    }
    const other = await startTestAgent({
      executor: new OtherRepository(BUILDERS[0]!),
      backend: new StandInBackend(),
    });
    try {
      const { ctx } = tagged('v4.3.1');
      const { result } = await runInProcess(ctx, agentInputs({ 'agent-url': other.url }));
      expect(result).toMatchObject({ ok: false, code: 'BUNDLE_REFUSED' });
      expect(failure(result)).toContain('REPOSITORY_MISMATCH');
      expect(w.gh.releasesOf(REPO).filter((r) => r.tagName === 'v4.3.1')).toEqual([]);
    } finally {
      await other.stop();
      await removeDir(other.dataDir);
    }
  });

  test('when build.json is invalid, it fails naming the field', async () => {
    const { ctx } = tagged('v4.4.0', {
      'build.json': JSON.stringify({
        language: 'cobol',
        input: { cmd: 'x' },
        output: { files: ['a'] },
      }),
    });
    const { result } = await runInProcess(ctx, agentInputs());
    expect(result).toMatchObject({ ok: false, code: 'CONFIG_INVALID' });
    expect(failure(result)).toContain('language');
  });

  test('when the build outlasts the time limit, it fails with TIMEOUT and cancels the agent job', async () => {
    const { ctx } = tagged('v4.5.0', {
      'build.json': simpleBuildJson({ input: { cmd: 'sleep 30' } }),
    });
    const { result, log } = await runInProcess(ctx, agentInputs(), {
      tweak: (i) => ((i as BuildInputs).timeoutMs = 1500),
    });
    expect(result).toMatchObject({ ok: false, code: 'TIMEOUT' });
    const jobId = /agent job (\S+)/.exec(log.lines.join('\n'))![1]!;
    expect(await agentJobState(w.agent, jobId)).toBe('cancelled');
  });

  test('when the step is cancelled, it cancels the agent job and the check run', async () => {
    const { ctx } = tagged('v4.6.0', {
      'build.json': simpleBuildJson({ input: { cmd: 'sleep 30' } }),
    });
    const controller = new AbortController();
    const { RecordingLog } = await import('../support/action/action-world.js');
    const log = new RecordingLog();
    const origInfo = log.info.bind(log);
    log.info = (m: string) => {
      origInfo(m);
      if (m === 'started') controller.abort('SIGTERM');
    };
    const { result } = await runInProcess(ctx, agentInputs(), { signal: controller.signal, log });
    expect(result).toMatchObject({ ok: false, code: 'CANCELLED' });
    const jobId = /agent job (\S+)/.exec(log.lines.join('\n'))![1]!;
    expect(await agentJobState(w.agent, jobId)).toBe('cancelled');
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ conclusion: 'cancelled' });
  });
});

describe('verify mode', () => {
  function verifyCtx(policy: string) {
    const co = makeCheckout({ 'policy.json': policy });
    return stepContext(w, { workspace: co.dir, sha: co.commit, ref: 'refs/heads/main' });
  }

  test('when enough trusted builders agree, it verifies and the release assets match', async () => {
    await seedBuiltRelease(w, { tag: 'v5.0.0', builders: BUILDERS.slice(0, 2) });
    const ctx = verifyCtx(policyJson(BUILDERS, 2));
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      release: 'v5.0.0',
      policy: 'policy.json',
      'github-token': writeToken(w),
    });
    expect(result.ok).toBe(true);
    expect(result.outputs.verified).toBe('true');
    expect(result.summary).toContain('**Agreeing builders:** alpha, beta');
    expect(result.summary).toContain(
      'npx tee-compile verify *.bundle.tar.gz --min-builders 2 --policy policy.json --allow-simulated',
    );
    expect(result.summary).toMatch(/`hello` \| matches/);
    expect(result.summary).toMatch(
      /\[check it in your browser\]\([^)]*\?bundle=[^)]*%2Freleases%2Fdownload%2Fv5\.0\.0%2F/,
    );
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ conclusion: 'success' });
  });

  test('when fewer builders agree than the policy asks, it refuses with QUORUM_NOT_MET', async () => {
    await seedBuiltRelease(w, { tag: 'v5.1.0', builders: BUILDERS.slice(0, 2) });
    const ctx = verifyCtx(policyJson(BUILDERS, 3));
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      release: 'v5.1.0',
      policy: 'policy.json',
      'github-token': writeToken(w),
    });
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ ok: false, code: 'QUORUM_NOT_MET' });
    expect(result.outputs).toEqual({ verified: 'false', code: 'QUORUM_NOT_MET' });
  });

  /** A release holding one bundle per builder (with its outputs) and the first one's artifacts. */
  async function seedRelease(
    tag: string,
    made: { builder: (typeof BUILDERS)[number]; outputs?: Record<string, string | Uint8Array> }[],
  ): Promise<void> {
    const assets: { name: string; bytes: Uint8Array }[] = [];
    for (const [i, m] of made.entries()) {
      const b = await makeBundle({ builder: m.builder, outputs: m.outputs ?? defaultOutputs() });
      assets.push({ name: `hello-${tag}.${m.builder.name}.bundle.tar.gz`, bytes: b.bytes });
      if (i === 0) {
        const names = artifactAssetNames([...b.contents.artifacts.keys()]);
        for (const [path, bytes] of b.contents.artifacts)
          assets.push({ name: names.get(path)!, bytes });
      }
    }
    w.gh.seedRelease(REPO, { tag, assets });
  }

  /** Runs verify mode with a `diffoscope` on PATH that prints the two files it was given. */
  async function verifyWithDiffoscope(tag: string, minBuilders: number) {
    const bin = tempDirSync('fake-diffoscope-');
    writeFileSync(
      join(bin, 'diffoscope'),
      '#!/bin/sh\necho "compared $4 with $5"; echo "\\`\\`\\` not a fence end"; exit 1\n',
    );
    chmodSync(join(bin, 'diffoscope'), 0o755);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved ?? ''}`;
    try {
      return (
        await runInProcess(verifyCtx(policyJson(BUILDERS, minBuilders)), {
          mode: 'verify',
          release: tag,
          policy: 'policy.json',
          'github-token': writeToken(w),
        })
      ).result;
    } finally {
      process.env.PATH = saved;
    }
  }

  const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
  const VERSION_PATH = 'target/release/VERSION';
  const majorityVersion = defaultOutputs()[VERSION_PATH] as string;
  const otherVersion = 'hello 1.0.10\ncommit 3b18e51\n';

  test("when one builder dissents, the summary names each differing file with both digests and sizes, and diffoscope's report", async () => {
    const [alpha, beta, gamma] = BUILDERS;
    await seedRelease('v5.3.0', [
      { builder: alpha! },
      { builder: beta! },
      { builder: gamma!, outputs: { ...defaultOutputs(), [VERSION_PATH]: otherVersion } },
    ]);
    const result = await verifyWithDiffoscope('v5.3.0', 2);
    expect(result.ok).toBe(true);
    expect(result.summary).toContain('**Dissenting builders:** gamma');
    expect(result.summary).toContain(
      '**gamma** (`hello-v5.3.0.gamma.bundle.tar.gz`) differs from the majority in:',
    );
    expect(result.summary).toContain(
      '| file | majority sha256 | majority size | dissent sha256 | dissent size | summary |',
    );
    expect(result.summary).toContain(
      `| \`${VERSION_PATH}\` | \`${sha256(majorityVersion)}\` | ${majorityVersion.length} bytes | \`${sha256(otherVersion)}\` | ${otherVersion.length} bytes | text differs at line 1:`,
    );
    // The runner's diffoscope, as `tee-compile verify` runs it, in a block its output cannot close.
    expect(result.summary).toContain(`<details><summary>diffoscope: ${VERSION_PATH}</summary>`);
    expect(result.summary).toContain(
      `\`\`\`\`text\ncompared majority/${VERSION_PATH} with dissent/${VERSION_PATH}\n\`\`\` not a fence end\n\`\`\`\`\n`,
    );
  });

  test('when two builders disagree and neither has more support, the summary says there is no majority and compares them as groups', async () => {
    const [alpha, , gamma] = BUILDERS;
    await seedRelease('v5.4.0', [
      { builder: alpha! },
      { builder: gamma!, outputs: { ...defaultOutputs(), [VERSION_PATH]: otherVersion } },
    ]);
    const result = await verifyWithDiffoscope('v5.4.0', 2);
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ ok: false, code: 'QUORUM_NOT_MET' });
    expect(result.summary).toContain(
      '**Agreeing builders:** none (no majority: the largest groups have as many builders)',
    );
    expect(result.summary).toContain('**Dissenting builders:** alpha, gamma');
    expect(result.summary).not.toContain('majority sha256');
    expect(result.summary).toContain(
      '**gamma** (`hello-v5.4.0.gamma.bundle.tar.gz`) differs from group 1 (alpha) in:',
    );
    expect(result.summary).toContain(
      '| file | group 1 sha256 | group 1 size | this bundle sha256 | this bundle size | summary |',
    );
    expect(result.summary).toContain(
      `compared group-1/${VERSION_PATH} with group-2/${VERSION_PATH}`,
    );
  });

  test('when a release artifact differs from the attested bytes, it refuses naming the asset', async () => {
    const { releaseId } = await seedBuiltRelease(w, {
      tag: 'v5.2.0',
      builders: BUILDERS.slice(0, 2),
    });
    w.gh.tamper(releaseId, 'hello', new Uint8Array([1, 2, 3]));
    const ctx = verifyCtx(policyJson(BUILDERS, 2));
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      release: 'v5.2.0',
      policy: 'policy.json',
      'github-token': writeToken(w),
    });
    expect(result).toMatchObject({ ok: false, code: 'ASSET_MISMATCH' });
    expect(failure(result)).toContain('hello');
  });

  test('when the release does not exist, it says so', async () => {
    const ctx = verifyCtx(policyJson(BUILDERS, 1));
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      release: 'v9.9.9',
      'github-token': writeToken(w),
    });
    expect(result).toMatchObject({ ok: false, code: 'RELEASE_NOT_FOUND' });
  });

  test("when verifying another repository's public release, it needs only a token of this one", async () => {
    await seedBuiltRelease(w, {
      tag: 'v0.9.0',
      builders: BUILDERS.slice(0, 1),
      repo: 'upstream/lib',
    });
    const ctx = verifyCtx(policyJson(BUILDERS, 1));
    const token = w.gh.token({ repo: REPO, contents: 'read', checks: 'write' });
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      repository: 'upstream/lib',
      release: 'v0.9.0',
      policy: 'policy.json',
      'github-token': token,
    });
    expect(result.ok).toBe(true);
    expect(JSON.parse(result.outputs.subjects!)).toHaveLength(2);
  });

  test('when the policy file is invalid, it fails naming the policy input and the field', async () => {
    const ctx = verifyCtx('{"minBuilders": 0}');
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      release: 'v5.0.0',
      policy: 'policy.json',
      'github-token': writeToken(w),
    });
    expect(result).toMatchObject({ ok: false, code: 'INPUT_INVALID', path: 'policy' });
    expect(failure(result)).toContain('minBuilders');
  });

  test('when bundles come from workflow artifacts of a matrix, it publishes the draft once they agree', async () => {
    const run = w.art.job().runBackendId;
    // Two builder jobs of one run upload their bundles as workflow artifacts.
    for (const b of BUILDERS.slice(0, 2))
      await uploadBundleArtifact(
        w,
        w.art.job(run),
        `tee-compile-${b.name}`,
        (await makeBundle({ builder: b })).bytes,
      );
    const seeded = w.gh.seedRelease(REPO, { tag: 'v6.0.0', draft: true });
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 2) });
    const ctx = stepContext(w, {
      workspace: co.dir,
      sha: co.commit,
      ref: 'refs/tags/v6.0.0',
      job: w.art.job(run),
    });
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      artifacts: 'tee-compile-*',
      policy: 'policy.json',
      publish: 'true',
      'github-token': writeToken(w),
    });
    expect(result.ok).toBe(true);
    expect(seeded.draft).toBe(false);
    expect(seeded.assets.map((a) => a.name).sort()).toEqual([
      'VERSION',
      'hello',
      'hello-v6.0.0.alpha.bundle.tar.gz',
      'hello-v6.0.0.beta.bundle.tar.gz',
    ]);
    expect(result.summary).toContain('attached from the agreed bundle');
  });
});

describe('failure codes', () => {
  test('when the workspace is not a git checkout, it fails with SOURCE_FAILED before anything is sent', async () => {
    const empty = tempDirSync('action-empty-');
    const ctx = stepContext(w, { workspace: empty, sha: 'a'.repeat(40) });
    const { result, log } = await runInProcess(ctx, agentInputs({ upload: 'none' }));
    expect(result).toMatchObject({ ok: false, code: 'SOURCE_FAILED' });
    expect(result.outputs).toEqual({ verified: 'false', code: 'SOURCE_FAILED' });
    expect(log.lines.join('\n')).not.toContain('agent job');
  });

  test('when a locked dependency has no checksum, it fails with DEPENDENCIES_FAILED before anything is sent', async () => {
    const { ctx } = tagged('v7.0.0', {
      'package.json': '{"name":"x","dependencies":{"g":"github:o/g"}}',
      'package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { name: 'x' },
          'node_modules/g': {
            version: '1.0.0',
            resolved: 'git+ssh://git@github.com/o/g.git#0123456789abcdef0123456789abcdef01234567',
          },
        },
      }),
    });
    const { result, log } = await runInProcess(ctx, agentInputs({ upload: 'none' }));
    expect(result).toMatchObject({ ok: false, code: 'DEPENDENCIES_FAILED' });
    expect(log.lines.join('\n')).not.toContain('agent job');
  });

  test('when the token may not write releases, publishing fails with GITHUB_FAILED and no release is made', async () => {
    const { ctx } = tagged('v7.1.0');
    const token = w.gh.token({ repo: REPO, contents: 'read', checks: 'write' });
    const { result } = await runInProcess(ctx, agentInputs({ 'github-token': token }));
    expect(result).toMatchObject({ ok: false, code: 'GITHUB_FAILED' });
    expect(w.gh.releasesOf(REPO).filter((r) => r.tagName === 'v7.1.0')).toEqual([]);
  });

  test('when the artifact service refuses the runtime token, verify mode fails with ARTIFACT_FAILED', async () => {
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 1) });
    // The runner's token with a signature the service does not accept.
    const artifacts = Object.create(w.art) as typeof w.art;
    artifacts.runtimeToken = (job) => `${w.art.runtimeToken(job).slice(0, -4)}AAAA`;
    const ctx = stepContext(w, { workspace: co.dir, sha: co.commit, artifacts });
    const { result } = await runInProcess(ctx, {
      mode: 'verify',
      artifacts: 'tee-compile-*',
      policy: 'policy.json',
      'github-token': writeToken(w),
    });
    expect(result).toMatchObject({ ok: false, code: 'ARTIFACT_FAILED' });
  });
});
