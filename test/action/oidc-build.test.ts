/**
 * The action in build mode with the workflow's OIDC token, end to end: the bundled action
 * (dist/index.js, run as the runner runs it) against the stand-ins of GitHub's API, artifact
 * service and token service (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN`, as a job with
 * `permissions: id-token: write` has them), building on the real agent (the built CLI, local
 * backend); then `tee-compile verify` on the bundle it published. The repository is a verified
 * fact only with the token; a client's own label for another repository is refused; without the
 * permission the action says so and builds a bundle whose repository is an unverified label.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { deriveNonce } from '../../src/action/nonce.js';
import { audienceFor } from '../../src/oidc/index.js';
import { makeCheckout } from '../support/source/action-repo.js';
import type { World } from '../support/action/action-world.js';
import { REPO, runDist, startWorld, stepContext, writeToken } from '../support/action/action-world.js';
import { curl, zipDir } from '../support/source/agent-sources.js';
import { runCli } from '../support/cli/cli.js';
import type { OidcStandin } from '../support/github/github-oidc.js';
import { signToken, startOidcStandin } from '../support/github/github-oidc.js';

const REPO_URL = `https://github.com/${REPO}`;
const TAG = 'v1.0.0';

let w: World;
let oidc: OidcStandin;
let work: string;
/** The stand-in's keys as a file, as a consumer passes newer keys (`--oidc-jwks`). */
let jwksFile: string;
const co = makeCheckout({}, { tag: TAG });

beforeAll(async () => {
  w = await startWorld();
  oidc = await startOidcStandin({
    repository: REPO,
    sha: co.commit,
    ref: `refs/tags/${TAG}`,
    workflow: 'release',
  });
  work = mkdtempSync(join(tmpdir(), 'action-oidc-'));
  jwksFile = join(work, 'standin-jwks.json');
  writeFileSync(jwksFile, await (await fetch(oidc.jwksUrl)).text());
});
afterAll(async () => {
  await w?.stop();
  await oidc?.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(co.dir, { recursive: true, force: true });
});

const buildInputs = (): Record<string, string> => ({
  'agent-url': w.agent.url,
  'agent-token': w.agent.token,
  'allow-simulated': 'true',
  'github-token': writeToken(w),
});

const verify = (bundle: string, ...args: string[]): ReturnType<typeof runCli> =>
  runCli(['verify', bundle, '--allow-simulated', '--commit', co.commit, ...args], { cwd: work });
const verifyCode = async (bundle: string, ...args: string[]): Promise<string | null> =>
  (JSON.parse((await verify(bundle, '--json', ...args)).stdout) as { code: string | null }).code;

describe('the action in build mode with the workflow token', () => {
  test('with id-token: write, the token names this build, and verify --repo passes on the token’s repository only', async () => {
    const nonce = deriveNonce({ repository: REPO, runId: '4242', runAttempt: '1' });
    const r = await runDist(
      {
        ...stepContext(w, { workspace: co.dir, sha: co.commit, ref: `refs/tags/${TAG}` }),
        // As the runner sets them for `permissions: id-token: write`; the action's own check
        // before publishing reads the stand-in's keys.
        env: { ...oidc.env, TEE_COMPILE_OIDC_JWKS_URL: oidc.jwksUrl },
      },
      buildInputs(),
    );
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.outputs.verified).toBe('true');
    expect(oidc.requested).toEqual([audienceFor(nonce)]);
    // The token is masked in the log (::add-mask::) before anything could print it.
    expect(r.stdout).toContain('::add-mask::');
    const bundle = r.outputs.bundle!;

    const ok = await verify(bundle, '--nonce', nonce, '--repo', REPO_URL, '--oidc-jwks', jwksFile);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(
      `repository ${REPO_URL} (id ${oidc.job.repositoryId}, ref refs/tags/${TAG}): verified by GitHub's OIDC token (key ${oidc.key.kid}`,
    );
    expect(ok.stdout).toContain(
      `workflow ${REPO}/.github/workflows/release.yml@refs/tags/${TAG} run ${oidc.job.runId}`,
    );
    // Another repository asked for: refused, the verified repository is example/hello.
    expect(
      await verifyCode(bundle, '--repo', 'https://github.com/acme/app', '--oidc-jwks', jwksFile),
    ).toBe('REPOSITORY_MISMATCH');
    // Without the stand-in's keys, its signature has no trusted key (it is not GitHub's).
    expect(await verifyCode(bundle, '--repo', REPO_URL)).toBe('OIDC_KEY_UNKNOWN');
    // A policy pinning the workflow: the token's workflow_ref matches, another is refused.
    const policy = (refs: string[]): string => {
      const f = join(work, `policy-${refs.length}-${refs[0]!.length}.json`);
      writeFileSync(f, JSON.stringify({ source: { requireWorkflow: true, workflowRef: refs } }));
      return f;
    };
    expect(
      await verifyCode(
        bundle,
        '--policy',
        policy([`${REPO}/.github/workflows/release.yml@refs/tags/*`]),
        '--oidc-jwks',
        jwksFile,
      ),
    ).toBeNull();
    expect(
      await verifyCode(
        bundle,
        '--policy',
        policy([`${REPO}/.github/workflows/nightly.yml@*`]),
        '--oidc-jwks',
        jwksFile,
      ),
    ).toBe('WORKFLOW_MISMATCH');
  });

  test('a bundle its client labels acme/app, carrying the token of example/hello, is refused with REPOSITORY_MISMATCH', async () => {
    // The client talks to the agent itself and names the repository it likes.
    const nonce = 'ac'.repeat(32);
    const zip = join(work, 'source.zip');
    await zipDir(co.dir, zip);
    const token = signToken(oidc.key, oidc.job, audienceFor(nonce), Math.floor(Date.now() / 1000));
    const posted = await curl([
      '-X',
      'POST',
      `${w.agent.url}/build`,
      '-H',
      `Authorization: Bearer ${w.agent.token}`,
      '-F',
      `source=@${zip}`,
      '--form-string',
      `nonce=${nonce}`,
      '--form-string',
      'repository=https://github.com/acme/app',
      '--form-string',
      `oidc_token=${token}`,
    ]);
    expect(posted.status).toBe(202);
    const { job_id } = JSON.parse(posted.body) as { job_id: string };
    const bundle = join(work, 'labelled.tar.gz');
    for (let i = 0; ; i++) {
      const res = await fetch(`${w.agent.url}/build/${job_id}/result`, {
        headers: { Authorization: `Bearer ${w.agent.token}` },
      });
      if (res.status === 200) {
        writeFileSync(bundle, new Uint8Array(await res.arrayBuffer()));
        break;
      }
      expect(res.status).toBe(409); // not finished yet
      if (i > 600) throw new Error('the build did not finish');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const repo of ['https://github.com/acme/app', REPO_URL])
      expect(
        await verifyCode(bundle, '--nonce', nonce, '--repo', repo, '--oidc-jwks', jwksFile),
      ).toBe('REPOSITORY_MISMATCH');
  });

  test('without id-token permission, the action gives a notice and builds without a token; the repository is an unverified label', async () => {
    const nonce = deriveNonce({ repository: REPO, runId: '4242', runAttempt: '2' });
    const before = oidc.requested.length;
    const r = await runDist(
      {
        ...stepContext(w, { workspace: co.dir, sha: co.commit, ref: `refs/tags/${TAG}` }),
        runAttempt: '2',
      },
      buildInputs(),
    );
    expect(r.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(oidc.requested.length).toBe(before);
    expect(r.stdout).toContain('permissions: id-token: write');
    const bundle = r.outputs.bundle!;
    const ok = await verify(bundle, '--nonce', nonce, '--repo', REPO_URL);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`repository ${REPO_URL}: an unverified label (no workflow token)`);
    const policy = join(work, 'require-workflow.json');
    writeFileSync(policy, JSON.stringify({ source: { requireWorkflow: true } }));
    expect(await verifyCode(bundle, '--nonce', nonce, '--policy', policy)).toBe(
      'WORKFLOW_REQUIRED',
    );
  });
});
