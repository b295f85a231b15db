/**
 * The workflow token's path through the agent's real HTTP API (multipart by curl, JSON by fetch;
 * events by a real SSE client) into the enclave: the worker checks it against the build and
 * records it in the provenance, where the verifier finds it with the stand-in's keys. A malformed
 * or oversized `oidc_token` is refused at the door with a code; a token of another commit is
 * refused by the worker and the job fails with a code.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readBundle } from '../../src/bundle/index.js';
import type { RsaJwk } from '../../src/oidc/index.js';
import { MAX_TOKEN_CHARS, audienceFor, parseJwks } from '../../src/oidc/index.js';
import { parseStatement, readOrigin } from '../../src/provenance/index.js';
import { verifyBundle } from '../../src/verify/index.js';
import { loadTrustPolicy } from '../../src/verify/node.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  TEST_TOKEN,
  followEvents,
  json,
  postBuild,
  removeDir,
  tempDir,
  waitFinished,
} from '../support/agent/agent-harness.js';
import { goProject, startPipelineAgent } from '../support/agent/agent-pipeline.js';
import { commitAll, curl, writeProject, zipDir } from '../support/source/agent-sources.js';
import type { OidcStandin } from '../support/github/github-oidc.js';
import { signToken, startOidcStandin } from '../support/github/github-oidc.js';

let work: string;
let agent: TestAgent;
let oidc: OidcStandin;
let keys: RsaJwk[];
let commit: string;
let zip: string;

const nonceOf = (i: number): string => createHash('sha256').update(`oidc ${i}`).digest('hex');
const tokenFor = (nonce: string, sha = commit): string =>
  signToken(
    oidc.key,
    { ...oidc.job, sha, repository: 'acme/app' },
    audienceFor(nonce),
    Math.floor(Date.now() / 1000),
  );

beforeAll(async () => {
  work = await tempDir('tc-agent-oidc-');
  const repo = join(work, 'repo');
  await writeProject(repo, goProject('printf "token test\\n" > out.txt'));
  commit = await commitAll(repo);
  zip = join(work, 'source.zip');
  await zipDir(repo, zip);
  oidc = await startOidcStandin();
  keys = parseJwks(await (await fetch(oidc.jwksUrl)).text(), 'standin');
  agent = await startPipelineAgent();
});

afterAll(async () => {
  await agent?.stop();
  await oidc?.close();
  if (agent) await removeDir(agent.dataDir);
  await removeDir(work);
});

/** POSTs the checkout's zip as multipart with curl, with the fields given. */
function postZip(fields: Record<string, string>): Promise<{ status: number; body: string }> {
  const args = ['-X', 'POST', `${agent.url}/build`, '-H', `Authorization: Bearer ${TEST_TOKEN}`];
  args.push('-F', `source=@${zip}`);
  // --form-string: the value as given (no @file or <file reading).
  for (const [k, v] of Object.entries(fields)) args.push('--form-string', `${k}=${v}`);
  return curl(args);
}

describe('the oidc_token field of a build request', () => {
  it('when a multipart request carries the workflow token, the worker records it in the provenance and the verifier reports its repository as verified', async () => {
    const nonce = nonceOf(1);
    const token = tokenFor(nonce);
    const r = await postZip({ nonce, oidc_token: token });
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    const events = await followEvents(agent.url, job_id);
    expect(events.at(-1)).toMatchObject({ type: 'complete', data: { ok: true } });
    const res = await agent.fetch(`/build/${job_id}/result`);
    const bytes = new Uint8Array(await res.arrayBuffer());

    // What the enclave recorded: the token as sent, and the claims the worker checked.
    const st = parseStatement((await readBundle(bytes)).provenance);
    expect(readOrigin(st).oidcToken).toBe(token);
    const byproduct = st.predicate.runDetails.byproducts?.find(
      (b) => b.name === 'source/oidc-token',
    );
    expect(byproduct?.annotations).toMatchObject({
      claims: { repository: 'acme/app', sha: commit, aud: audienceFor(nonce) },
    });

    const policy = await loadTrustPolicy({
      flags: { nonce, commit, allowSimulated: true, repository: 'https://github.com/acme/app' },
    });
    const v = await verifyBundle(bytes, policy, { now: Date.now(), oidcKeys: keys });
    if (!v.ok) throw new Error(`${v.code}: ${v.message}`);
    expect(v.origin.repository).toEqual({
      url: 'https://github.com/acme/app',
      basis: 'workflow-token',
    });
    expect(v.origin.workflow).toMatchObject({ repository: 'acme/app', kid: oidc.key.kid });
  });

  it('when a JSON request carries the workflow token, it reaches the worker the same way', async () => {
    const nonce = nonceOf(2);
    const token = tokenFor(nonce);
    const { readFile } = await import('node:fs/promises');
    const res = await postBuild(agent, {
      nonce,
      source_data: (await readFile(zip)).toString('base64'),
      source_name: 'source.zip',
      oidc_token: token,
    });
    expect(res.status).toBe(202);
    const { job_id } = await json<{ job_id: string }>(res);
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({ state: 'succeeded' });
    const bytes = new Uint8Array(
      await (await agent.fetch(`/build/${job_id}/result`)).arrayBuffer(),
    );
    expect(readOrigin(parseStatement((await readBundle(bytes)).provenance)).oidcToken).toBe(token);
  });

  it.each([
    ['not a JWT', 'not-a-token'],
    ['two segments', 'aGVhZGVy.cGF5bG9hZA'],
    ['a character outside base64url', 'aGVhZGVy.cGF5bG9hZA.c2ln+'],
  ])(
    'when oidc_token is %s, the request is refused as invalid_request naming the field (multipart and JSON)',
    async (_what, bad) => {
      const nonce = nonceOf(3);
      const m = await postZip({ nonce, oidc_token: bad });
      expect(m.status).toBe(400);
      expect(JSON.parse(m.body)).toMatchObject({
        error: { type: 'invalid_request', field: 'oidc_token' },
      });
      const j = await postBuild(agent, {
        nonce,
        repo_url: 'https://example.com/x.git',
        oidc_token: bad,
      });
      expect(j.status).toBe(400);
      expect(await json(j)).toMatchObject({
        error: { type: 'invalid_request', field: 'oidc_token' },
      });
    },
  );

  it('when oidc_token is longer than any GitHub token, it is refused: payload_too_large as a form field, invalid_request in JSON', async () => {
    const nonce = nonceOf(5);
    const long = `${'a'.repeat(MAX_TOKEN_CHARS)}.b.c`;
    const m = await postZip({ nonce, oidc_token: long });
    expect(m.status).toBe(413);
    expect(JSON.parse(m.body)).toMatchObject({
      error: { type: 'payload_too_large', field: 'oidc_token' },
    });
    const j = await postBuild(agent, {
      nonce,
      repo_url: 'https://example.com/x.git',
      oidc_token: long,
    });
    expect(j.status).toBe(400);
    expect(await json(j)).toMatchObject({
      error: { type: 'invalid_request', field: 'oidc_token' },
    });
  });

  it('when oidc_token is longer than other form fields may be but within the token bound, the form takes it as JSON does, and the worker judges it', async () => {
    const nonce = nonceOf(6);
    const r = await postZip({ nonce, oidc_token: `${'a'.repeat(10 * 1024)}.b.c` });
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { code: 'OIDC_TOKEN_INVALID' },
    });
  });

  it('when the token names another commit, the worker refuses it and the job fails with OIDC_TOKEN_INVALID', async () => {
    const nonce = nonceOf(4);
    const r = await postZip({ nonce, oidc_token: tokenFor(nonce, 'f'.repeat(40)) });
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { code: 'OIDC_TOKEN_INVALID' },
    });
  });
});
