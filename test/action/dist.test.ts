/**
 * The committed bundle, dist/index.js, run the way the runner runs it (node, INPUT_* variables,
 * GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, the event file, the artifact service's variables) against the
 * real agent (the built CLI, local backend) and the stand-ins of GitHub's API and artifact service.
 * When the real agent cannot be started, every test here fails with the reason. Only the matrix of
 * builders uses in-process agents, and asks for them: it needs several attesting identities.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { runArtifacts } from '../../src/action/artifacts.js';
import { deriveNonce } from '../../src/action/nonce.js';
import { octokitGitHub } from '../../src/action/github.js';
import { readBundle } from '../../src/bundle/index.js';
import { parseStatement } from '../../src/provenance/index.js';
import { verifyBundle } from '../../src/verify/index.js';
import { loadTrustPolicy } from '../../src/verify/node.js';
import { makeCheckout } from '../support/source/action-repo.js';
import { agentJobState } from '../support/action/action-agent.js';
import { runStep } from '../support/action/action-runner.js';
import type { World } from '../support/action/action-world.js';
import {
  REPO,
  policyJson,
  runDist,
  seedBuiltRelease,
  startWorld,
  stepContext,
  writeToken,
} from '../support/action/action-world.js';
import { BUILDERS } from '../support/bundles/bundle-factory.js';
import { tempDirSync } from '../support/temp.js';

/** A lockfile with one registry package, as npm writes it. */
const LOCK_WITH_PICOCOLORS = {
  name: 'deps',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: {
    '': { name: 'deps', version: '1.0.0', dependencies: { picocolors: '1.1.1' } },
    'node_modules/picocolors': {
      version: '1.1.1',
      resolved: 'https://registry.npmjs.org/picocolors/-/picocolors-1.1.1.tgz',
      integrity:
        'sha512-xceH2snhtb5M9liqDsmEw56le376mTZkEX/jEb/RxNFyegNul7eNslCXP9FDj/Lcu0X8KEyMceP2ntpaHrDEVA==',
      license: 'ISC',
    },
  },
};

/**
 * GITHUB_SERVER_URL of the stand-in: not github.com, as on GitHub Enterprise Cloud with data
 * residency (whose artifact service the artifact client supports, unlike a GHES one).
 */
const SERVER_URL = 'https://octo-corp.ghe.com';

let w: World;
beforeAll(async () => {
  w = await startWorld({ serverUrl: SERVER_URL });
});
afterAll(async () => {
  await w?.stop();
});

test('the agent the build tests run against is the real one, served by the built CLI', () => {
  expect(w.agent.kind).toBe('cli');
});

function buildInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'agent-url': w.agent.url,
    'agent-token': w.agent.token,
    'allow-simulated': 'true',
    'github-token': writeToken(w),
    ...extra,
  };
}

async function verifies(
  bytes: Uint8Array,
  nonce: string,
  commit: string,
  repository = `${SERVER_URL}/${REPO}`,
): Promise<boolean> {
  const policy = await loadTrustPolicy({
    flags: { nonce, commit, repository, allowSimulated: true },
  });
  const r = await verifyBundle(bytes, policy, { now: Date.now() });
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.ok;
}

describe('build mode', () => {
  const co = makeCheckout({}, { tag: 'v1.0.0' });
  const ctx = () => stepContext(w, { workspace: co.dir, sha: co.commit, ref: 'refs/tags/v1.0.0' });
  const nonce1 = deriveNonce({ repository: REPO, runId: '4242', runAttempt: '1' });
  const nonce2 = deriveNonce({ repository: REPO, runId: '4242', runAttempt: '2' });

  test('when a tag is pushed, it builds, verifies and attaches artifacts and evidence to a draft release', async () => {
    const r = await runDist(ctx(), buildInputs());
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.groups).toEqual(
      expect.arrayContaining(['source and dependencies', 'build: building', 'release v1.0.0']),
    );
    expect(r.outputs.verified).toBe('true');
    expect(r.outputs.pcr0).toMatch(/^[0-9a-f]{96}$/);
    expect(r.outputs['provenance-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(r.outputs.subjects!)).toEqual([
      { name: 'out/VERSION', sha256: expect.any(String) },
      { name: 'out/hello.txt', sha256: expect.any(String) },
    ]);
    expect(readdirSync(join(r.runnerTemp, 'tee-compile'))).toEqual([
      r.outputs.bundle!.split('/').pop(),
    ]);
    expect(r.summary).toContain('## Attested build: verified');
    expect(r.summary).toContain(
      `--repo ${SERVER_URL}/${REPO} --commit ${co.commit} --nonce ${nonce1} --allow-simulated`,
    );

    const [rel] = w.gh.releasesOf(REPO);
    expect(rel).toMatchObject({ tagName: 'v1.0.0', draft: true });
    const names = rel!.assets.map((a) => a.name);
    expect(names).toHaveLength(5);
    expect(names).toEqual(expect.arrayContaining(['hello.txt', 'VERSION']));
    const bundle = rel!.assets.find((a) => a.name.endsWith('.bundle.tar.gz'))!;
    expect(bundle.name).toMatch(/^hello-v1\.0\.0\.[A-Za-z0-9.+_-]+\.bundle\.tar\.gz$/);
    // Downloaded through the API (redirect to the object host), the bundle verifies offline.
    const api = octokitGitHub(writeToken(w), w.gh.apiUrl);
    const bytes = await api.downloadAsset({ owner: 'example', repo: 'hello' }, bundle.id);
    expect(Buffer.from(bytes).equals(readFileSync(r.outputs.bundle!))).toBe(true);
    expect(await verifies(bytes, nonce1, co.commit)).toBe(true);
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({
      headSha: co.commit,
      conclusion: 'success',
    });
  });

  test('when the job is re-run, it duplicates nothing: it keeps the artifacts and replaces the evidence', async () => {
    const [rel] = w.gh.releasesOf(REPO);
    const before = new Map(rel!.assets.map((a) => [a.name, a.id]));
    const r = await runDist({ ...ctx(), runAttempt: '2' }, buildInputs());
    expect(r.code).toBe(0);
    expect(w.gh.releasesOf(REPO)).toHaveLength(1);
    const after = rel!.assets;
    expect(after.map((a) => a.name).sort()).toEqual([...before.keys()].sort());
    expect(after.find((a) => a.name === 'hello.txt')!.id).toBe(before.get('hello.txt'));
    expect(after.find((a) => a.name === 'VERSION')!.id).toBe(before.get('VERSION'));
    const bundle = after.find((a) => a.name.endsWith('.bundle.tar.gz'))!;
    expect(bundle.id).not.toBe(before.get(bundle.name));
    expect(await verifies(bundle.bytes, nonce2, co.commit)).toBe(true);
    const provenance = after.find((a) => a.name.endsWith('.provenance.json'))!;
    const statement = parseStatement(new Uint8Array(provenance.bytes));
    expect(JSON.stringify(statement)).toContain(nonce2);
    expect(r.summary).toMatch(/`hello.txt` \| `[0-9a-f]{64}` \| kept/);
  });

  test('when a pull request is built, it uploads the bundle as a workflow artifact that can be downloaded again', async () => {
    const pr = makeCheckout({ 'src.txt': 'change\n' });
    const job = w.art.job();
    const r = await runDist(
      stepContext(w, {
        workspace: pr.dir,
        sha: pr.commit,
        ref: 'refs/pull/3/merge',
        eventName: 'pull_request',
        event: { pull_request: { number: 3, head: { sha: pr.commit } } },
        job,
      }),
      buildInputs(),
    );
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    const [artifact] = w.art.artifactsOf(job.runBackendId);
    expect(artifact!.name).toMatch(/^tee-compile-/);
    // Another job of the run downloads it with the artifact client.
    process.env.ACTIONS_RUNTIME_TOKEN = w.art.runtimeToken(w.art.job(job.runBackendId));
    process.env.ACTIONS_RESULTS_URL = w.art.resultsUrl;
    const dir = tempDirSync('download-');
    const store = runArtifacts();
    const listed = await store.list();
    expect(listed.map((a) => a.name)).toEqual([artifact!.name]);
    await store.download(listed[0]!.id, dir);
    const [file] = readdirSync(dir);
    expect(file).toMatch(/^hello-[0-9a-f]{12}\..+\.bundle\.tar\.gz$/);
    const bytes = new Uint8Array(readFileSync(join(dir, file!)));
    expect(await verifies(bytes, nonce1, pr.commit)).toBe(true);
    expect((await readBundle(bytes)).artifacts.get('out/hello.txt')).toBeDefined();
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({
      headSha: pr.commit,
      conclusion: 'success',
    });
  });

  test('when the project locks dependencies, it fetches them on the runner and the enclave builds with them', async () => {
    expect(w.agent.kind).toBe('cli');
    const deps = makeCheckout({
      'package.json': JSON.stringify({
        name: 'deps',
        version: '1.0.0',
        private: true,
        dependencies: { picocolors: '1.1.1' },
      }),
      'package-lock.json': JSON.stringify(LOCK_WITH_PICOCOLORS, null, 2),
      'build.json': JSON.stringify({
        language: 'node',
        input: {
          cmd: `npm ci --offline --no-audit --no-fund && mkdir -p out && node -e "require('fs').writeFileSync('out/colors.txt', require('picocolors').green('ok') + '\\n')"`,
        },
        output: { files: ['out/colors.txt'] },
      }),
    });
    const r = await runDist(
      stepContext(w, { workspace: deps.dir, sha: deps.commit }),
      buildInputs({ upload: 'none' }),
    );
    expect(r.errors).toEqual([]);
    expect(r.stdout).toContain('1 locked dependencies');
    expect(JSON.parse(r.outputs.subjects!)).toEqual([
      { name: 'out/colors.txt', sha256: expect.any(String) },
    ]);
    const bundle = await readBundle(new Uint8Array(readFileSync(r.outputs.bundle!)));
    expect(new TextDecoder().decode(bundle.artifacts.get('out/colors.txt'))).toContain('ok');
    expect(new TextDecoder().decode(bundle.provenance)).toContain('pkg:npm/picocolors@1.1.1');
  });

  test('when config is the build.json of a subdirectory, the real agent builds there and the bundle records the workdir and this repository', async () => {
    const nested = makeCheckout({
      'examples/hello/build.json': JSON.stringify({
        language: 'node',
        input: { cmd: 'mkdir -p out && printf "hello from examples/hello\\n" > out/greeting.txt' },
        output: { files: ['out/greeting.txt'] },
      }),
      'examples/hello/README.md': '# one of several examples\n',
    });
    const r = await runDist(
      stepContext(w, { workspace: nested.dir, sha: nested.commit }),
      buildInputs({ config: 'examples/hello/build.json', upload: 'none' }),
    );
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    // The subdirectory's build.json, not the root's (out/hello.txt, out/VERSION).
    expect(JSON.parse(r.outputs.subjects!)).toEqual([
      { name: 'examples/hello/out/greeting.txt', sha256: expect.any(String) },
    ]);
    const bytes = new Uint8Array(readFileSync(r.outputs.bundle!));
    const bundle = await readBundle(bytes);
    expect(new TextDecoder().decode(bundle.artifacts.get('examples/hello/out/greeting.txt'))).toBe(
      'hello from examples/hello\n',
    );
    const ep = parseStatement(bundle.provenance).predicate.buildDefinition.externalParameters;
    expect(ep.source.repository).toBe(`${SERVER_URL}/${REPO}`);
    expect(ep.source.gitCommit).toBe(nested.commit);
    // The real agent records where it built.
    expect(ep.workdir).toBe('examples/hello');
    expect(await verifies(bytes, nonce1, nested.commit)).toBe(true);
    await expect(
      verifies(bytes, nonce1, nested.commit, 'https://github.com/someone/else'),
    ).rejects.toThrow(/^REPOSITORY_MISMATCH/);
    expect(r.summary).toContain(`- **Source repository:** \`${SERVER_URL}/${REPO}\``);
    expect(r.summary).toContain(
      `--repo ${SERVER_URL}/${REPO} --commit ${nested.commit} --nonce ${nonce1} --allow-simulated`,
    );
  });

  test('when the step is cancelled (SIGTERM), it cancels the agent job and fails', async () => {
    const slow = makeCheckout({
      'build.json': JSON.stringify({
        language: 'node',
        input: { cmd: 'sleep 60' },
        output: { files: ['x'] },
      }),
    });
    let jobId = '';
    const r = await runStep(
      stepContext(w, { workspace: slow.dir, sha: slow.commit }),
      buildInputs({ upload: 'none' }),
      (child, stdout) => {
        const timer = setInterval(() => {
          const m = /agent job (\S+)/.exec(stdout());
          if (m !== null && /\nstarted\n/.test(stdout())) {
            jobId = m[1]!;
            clearInterval(timer);
            child.kill('SIGTERM');
          }
        }, 50);
        child.on('exit', () => clearInterval(timer));
      },
    );
    expect(r.code).toBe(1);
    expect(r.outputs.code).toBe('CANCELLED');
    expect(await agentJobState(w.agent, jobId)).toBe('cancelled');
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ conclusion: 'cancelled' });
  });
});

describe('verify mode', () => {
  function verifyStep(policy: string, inputs: Record<string, string>) {
    const co = makeCheckout({ 'policy.json': policy });
    return runDist(stepContext(w, { workspace: co.dir, sha: co.commit }), {
      mode: 'verify',
      policy: 'policy.json',
      'github-token': writeToken(w),
      ...inputs,
    });
  }

  test('when the release holds bundles of enough trusted builders, it passes', async () => {
    await seedBuiltRelease(w, { tag: 'v2.0.0', builders: BUILDERS.slice(0, 2) });
    const r = await verifyStep(policyJson(BUILDERS, 2), { release: 'v2.0.0' });
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    expect(JSON.parse(r.outputs.subjects!)).toHaveLength(2);
    expect(r.summary).toContain('## Attested release: verified');
    expect(r.summary).toContain('npx tee-compile verify');
  });

  test('when a bundle asset was tampered with, it does not count that builder and refuses the release', async () => {
    const { releaseId, bundles } = await seedBuiltRelease(w, {
      tag: 'v2.1.0',
      builders: BUILDERS.slice(0, 2),
    });
    const name = [...bundles.keys()][1]!;
    const bytes = new Uint8Array(bundles.get(name)!);
    bytes[bytes.length - 30]! ^= 0xff;
    w.gh.tamper(releaseId, name, bytes);
    const r = await verifyStep(policyJson(BUILDERS, 2), { release: 'v2.1.0' });
    expect(r.code).toBe(1);
    expect(r.outputs).toMatchObject({ verified: 'false', code: 'QUORUM_NOT_MET' });
    expect(r.errors).toHaveLength(1);
    // The tampered artifact is hashed as it streams by: its digest is not the attested one.
    expect(r.summary).toContain('refused: SUBJECT\\_DIGEST\\_MISMATCH');
  });

  test('when fewer builders agree than required, it is refused', async () => {
    await seedBuiltRelease(w, { tag: 'v2.2.0', builders: BUILDERS.slice(0, 2) });
    const r = await verifyStep(policyJson(BUILDERS, 1), { release: 'v2.2.0', 'min-builders': '3' });
    expect(r.code).toBe(1);
    expect(r.outputs.code).toBe('QUORUM_NOT_MET');
    expect(r.errors).toHaveLength(1);
    expect(w.gh.checkRunsOf(REPO).at(-1)).toMatchObject({ conclusion: 'failure' });
  });
});

describe('bad inputs', () => {
  test.each([
    ['mode', 'bild'],
    ['upload', 'everywhere'],
    ['allow-simulated', 'maybe'],
    ['timeout-minutes', 'soon'],
    ['nonce', 'not-hex'],
    ['agent-url', 'not a url'],
    ['config', '../outside.json'],
    ['min-builders', '0'],
    ['release', 'bad tag'],
  ])('when %s is %j, the step fails naming the input and calls nothing', async (name, value) => {
    const co = makeCheckout();
    const before = w.gh.requests.length;
    const r = await runDist(
      stepContext(w, { workspace: co.dir, sha: co.commit }),
      buildInputs({ [name]: value }),
    );
    expect(r.code).toBe(1);
    expect(r.errors).toHaveLength(1);
    expect(r.outputs).toMatchObject({ verified: 'false', code: 'INPUT_INVALID' });
    expect(r.errors[0]).toContain(name);
    expect(r.summary).toContain(`input "${name}"`);
    expect(w.gh.requests.length).toBe(before);
  });
});

describe('a matrix of builders and a consensus job', () => {
  let m: World;
  beforeAll(async () => {
    // Distinct builders need distinct attesting identities: simulated builders, one per agent.
    m = await startWorld({ builders: BUILDERS.slice(0, 2), inProcessAgents: true });
  });
  afterAll(async () => {
    await m?.stop();
  });

  test('when two trusted builders agree, it (the consensus job) publishes the draft they attached to', async () => {
    const co = makeCheckout({ 'policy.json': policyJson(BUILDERS, 2) }, { tag: 'v3.0.0' });
    const ctx = stepContext(m, { workspace: co.dir, sha: co.commit, ref: 'refs/tags/v3.0.0' });
    for (const agent of m.agents) {
      const r = await runDist(ctx, {
        'agent-url': agent.url,
        'agent-token': agent.token,
        policy: 'policy.json',
        'github-token': writeToken(m),
      });
      expect(r.errors).toEqual([]);
    }
    const [rel] = m.gh.releasesOf(REPO);
    expect(rel!.draft).toBe(true);
    expect(rel!.assets.map((a) => a.name).sort()).toEqual([
      'VERSION',
      'hello-v3.0.0.alpha.attestation.cbor',
      'hello-v3.0.0.alpha.bundle.tar.gz',
      'hello-v3.0.0.alpha.provenance.json',
      'hello-v3.0.0.beta.attestation.cbor',
      'hello-v3.0.0.beta.bundle.tar.gz',
      'hello-v3.0.0.beta.provenance.json',
      'hello.txt',
    ]);
    const consensus = await runDist(ctx, {
      mode: 'verify',
      policy: 'policy.json',
      'min-builders': '2',
      publish: 'true',
      'github-token': writeToken(m),
    });
    expect(consensus.errors).toEqual([]);
    expect(consensus.outputs.verified).toBe('true');
    expect(rel!.draft).toBe(false);
    expect(consensus.summary).toContain('**Agreeing builders:** alpha, beta');
  });
});
