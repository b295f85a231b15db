/**
 * The HTTP API over real HTTP on loopback, with a stand-in backend and a scripted executor (the
 * real pipeline is exercised in e2e.test.ts): status codes, validation naming each field, auth,
 * cancellation, results, metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { readFile, readdir, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ScriptedExecutor, StandInBackend, scriptedConfig } from '../support/agent/agent-fakes.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  TEST_TOKEN,
  json,
  postBuild,
  removeDir,
  startTestAgent,
  tempDir,
  waitFinished,
  waitFor,
} from '../support/agent/agent-harness.js';
import { curl, tarGzDir, writeProject, zipDir } from '../support/source/agent-sources.js';

const NONCE = 'ab'.repeat(16);

let work: string;
let zipB64: string;
let zipFile: string;
let tgzFile: string;
/** A source whose build.json is in `examples/hello` only (none at the root). */
let nestedFile: string;
let nestedB64: string;

beforeAll(async () => {
  work = await tempDir('tc-agent-api-');
  const proj = join(work, 'proj');
  await writeProject(proj, {
    'build.json': JSON.stringify(scriptedConfig('ok')),
    'src/a.txt': 'a\n',
  });
  zipFile = join(work, 'source.zip');
  tgzFile = join(work, 'source.tar.gz');
  await zipDir(proj, zipFile);
  await tarGzDir(proj, tgzFile);
  zipB64 = (await readFile(zipFile)).toString('base64');
  const nested = join(work, 'nested');
  await writeProject(nested, {
    'README.md': '# examples\n',
    'examples/hello/build.json': JSON.stringify(scriptedConfig('ok')),
    'examples/hello/src/a.txt': 'a\n',
    'examples/notes.txt': 'not a directory\n',
    'vendor/lib/build.json': JSON.stringify(scriptedConfig('ok')),
    'vendor/lib/.git/config': '[core]\n\tfsmonitor = touch /tmp/never\n',
  });
  await symlink('hello', join(nested, 'examples', 'link'));
  nestedFile = join(work, 'nested.zip');
  await zipDir(nested, nestedFile);
  nestedB64 = (await readFile(nestedFile)).toString('base64');
});

afterAll(async () => {
  await removeDir(work);
});

async function expectError(
  res: Response,
  status: number,
  type: string,
  field?: string,
): Promise<void> {
  const body = await json<{ error: { type: string; message: string; field?: string } }>(res);
  expect({ status: res.status, type: body.error.type, field: body.error.field }).toEqual({
    status,
    type,
    field,
  });
  expect(body.error.message.length).toBeGreaterThan(0);
}

describe('agent API (stand-in backend)', () => {
  let agent: TestAgent;
  let executor: ScriptedExecutor;
  let backend: StandInBackend;

  beforeAll(async () => {
    executor = new ScriptedExecutor();
    backend = new StandInBackend();
    agent = await startTestAgent({
      executor,
      backend,
      config: { limits: { maxJsonBodyBytes: 256 * 1024, maxSourceBytes: 128 * 1024 } },
    });
  });
  afterAll(async () => {
    await agent.stop();
    await removeDir(agent.dataDir);
  });

  it('when /health is asked without a token, it answers 200 ok', async () => {
    const res = await agent.fetch('/health', { auth: false });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
  });

  it('when a route is asked without the token or with a wrong one, it answers 401', async () => {
    await expectError(await agent.fetch('/build/x', { auth: false }), 401, 'unauthorized');
    const wrong = await fetch(`${agent.url}/metrics`, {
      headers: { Authorization: 'Bearer wrong-token-0123456789' },
    });
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    await expectError(wrong, 401, 'unauthorized');
    const res = await fetch(`${agent.url}/build`, {
      method: 'POST',
      body: '{}',
      headers: { 'Content-Type': 'application/json' },
    });
    await expectError(res, 401, 'unauthorized');
  });

  it('when a JSON build with source_data succeeds, it gives 202, the state, the events and the bundle with its ETag', async () => {
    const res = await postBuild(agent, {
      nonce: NONCE,
      source_data: zipB64,
      source_name: 'project.zip',
    });
    expect(res.status).toBe(202);
    const { job_id, nonce } = await json<{ job_id: string; nonce: string }>(res);
    expect(nonce).toBe(NONCE);
    const view = await waitFinished(agent.fetch, job_id);
    expect(view).toMatchObject({
      job_id,
      state: 'succeeded',
      nonce: NONCE,
      source: { archive: 'zip', source_name: 'project.zip' },
      subjects: [{ name: 'out.txt' }],
    });
    expect(typeof (view.timings as { build_ms: number }).build_ms).toBe('number');
    const result = await agent.fetch(`/build/${job_id}/result`);
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toBe('application/gzip');
    const bytes = Buffer.from(await result.arrayBuffer());
    expect(Number(result.headers.get('content-length'))).toBe(bytes.length);
    expect(result.headers.get('etag')).toBe(
      `"${createHash('sha256').update(bytes).digest('hex')}"`,
    );
    const again = await agent.fetch(`/build/${job_id}/result`, {
      headers: { 'If-None-Match': result.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
    // The executor saw the archive's single top-level directory as the source root.
    expect(executor.jobs.find((j) => j.jobId === job_id)?.nonce).toBe(NONCE);
  });

  it('when no nonce is sent, it makes a 32-byte one and returns it', async () => {
    const res = await postBuild(agent, { source_data: zipB64 });
    expect(res.status).toBe(202);
    const { job_id, nonce } = await json<{ job_id: string; nonce: string }>(res);
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect((await waitFinished(agent.fetch, job_id)).nonce).toBe(nonce);
  });

  it('when curl uploads a zip made by zip as multipart, it accepts it', async () => {
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      'Authorization: Bearer test-token-0123456789abcdef',
      '-F',
      `source=@${zipFile}`,
      '-F',
      `nonce=${NONCE}`,
    ]);
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: { archive: 'zip', source_name: 'source.zip' },
    });
  });

  it('when curl uploads a .tar.gz with a config part, it uses that config', async () => {
    const cfg = join(work, 'override.json');
    await writeProject(work, { 'override.json': JSON.stringify(scriptedConfig('logs:3')) });
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      'Authorization: Bearer test-token-0123456789abcdef',
      '-F',
      `source=@${tgzFile}`,
      '-F',
      `config=@${cfg}`,
    ]);
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    expect((await waitFinished(agent.fetch, job_id)).state).toBe('succeeded');
    expect(executor.jobs.find((j) => j.jobId === job_id)?.config).toEqual(scriptedConfig('logs:3'));
  });

  it('when JSON gives workdir and repository, it records them and builds from the build.json of that directory', async () => {
    const res = await postBuild(agent, {
      nonce: NONCE,
      source_data: nestedB64,
      workdir: 'examples/hello',
      repository: 'https://github.com/example/hello',
    });
    expect(res.status).toBe(202);
    const { job_id } = await json<{ job_id: string }>(res);
    // The source root has no build.json: only the workdir's can make this build succeed.
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: { workdir: 'examples/hello', repository: 'https://github.com/example/hello' },
    });
    const job = executor.jobs.find((j) => j.jobId === job_id)!;
    expect({ workdir: job.workdir, repository: job.repository }).toEqual({
      workdir: 'examples/hello',
      repository: 'https://github.com/example/hello',
    });
    const record = JSON.parse(
      await readFile(join(agent.dataDir, 'jobs', job_id, 'job.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(record).toMatchObject({
      workdir: 'examples/hello',
      repository: 'https://github.com/example/hello',
    });
  });

  it('when curl gives workdir and repository as multipart fields, it records them and builds there', async () => {
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      `Authorization: Bearer ${TEST_TOKEN}`,
      '-F',
      'workdir=examples/hello',
      '-F',
      'repository=https://git.example.org/group/sub/hello',
      '-F',
      `source=@${nestedFile}`,
    ]);
    expect(r.status).toBe(202);
    const { job_id } = JSON.parse(r.body) as { job_id: string };
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: {
        workdir: 'examples/hello',
        repository: 'https://git.example.org/group/sub/hello',
      },
    });
    expect(executor.jobs.find((j) => j.jobId === job_id)).toMatchObject({
      workdir: 'examples/hello',
      repository: 'https://git.example.org/group/sub/hello',
    });
  });

  it('when neither workdir nor repository is given, the build runs at the source root and records no repository', async () => {
    const { job_id } = await json<{ job_id: string }>(
      await postBuild(agent, { source_data: zipB64 }),
    );
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'succeeded',
      source: { workdir: '.', repository: null },
    });
    expect(executor.jobs.find((j) => j.jobId === job_id)).toMatchObject({
      workdir: '.',
      repository: null,
    });
  });

  describe('when the workdir is not a directory of the source, the job fails as source_invalid naming it, before any enclave', () => {
    const cases: [string, string, string][] = [
      ['missing', 'examples/nothing-here', 'does not exist in the source'],
      ['below a file', 'examples/notes.txt/x', 'is not a directory in the source'],
      ['a file', 'examples/notes.txt', 'is not a directory in the source'],
      ['through a symbolic link', 'examples/link', "'link' is a link"],
      ['in a nested repository', 'vendor/lib', 'has a .git of its own'],
    ];
    it.each(cases)('%s', async (_name, workdir, reason) => {
      const started = backend.started.length;
      const { job_id } = await json<{ job_id: string }>(
        await postBuild(agent, { source_data: nestedB64, workdir }),
      );
      const view = await waitFinished(agent.fetch, job_id);
      expect(view).toMatchObject({
        state: 'failed',
        error: { type: 'source_invalid', code: 'AGENT_SOURCE_INVALID' },
      });
      const { message } = view.error as { message: string };
      expect(message.startsWith(`workdir: '${workdir}' `)).toBe(true);
      expect(message).toContain(reason);
      expect(executor.jobs.some((j) => j.jobId === job_id)).toBe(false);
      expect(backend.started.length).toBe(started);
    });
  });

  describe('when a JSON body field is wrong, it answers 400 naming the field', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['nonce not hex', { nonce: 'zz'.repeat(16), source_data: 'UEsFBg==' }, 'nonce'],
      ['nonce too short', { nonce: 'abcd', source_data: 'UEsFBg==' }, 'nonce'],
      ['nonce not a string', { nonce: 42, source_data: 'UEsFBg==' }, 'nonce'],
      ['file:// repository', { repo_url: 'file:///etc' }, 'repo_url'],
      ['local path', { repo_url: '/srv/repo.git' }, 'repo_url'],
      ['ssh repository', { repo_url: 'ssh://git@example.com/r.git' }, 'repo_url'],
      ['credentials in the URL', { repo_url: 'https://user:pw@example.com/r.git' }, 'repo_url'],
      ['http when not allowed', { repo_url: 'http://example.com/r.git' }, 'repo_url'],
      ['instance metadata', { repo_url: 'https://169.254.169.254/latest' }, 'repo_url'],
      [
        'ref as an option',
        { repo_url: 'https://example.com/r.git', repo_ref: '--upload-pack=x' },
        'repo_ref',
      ],
      ['ref with ..', { repo_url: 'https://example.com/r.git', repo_ref: 'a/../b' }, 'repo_ref'],
      ['ref without repo_url', { source_data: 'UEsFBg==', repo_ref: 'main' }, 'repo_ref'],
      ['bad base64', { source_data: 'not base64!' }, 'source_data'],
      [
        'not an archive',
        { source_data: Buffer.from('plain text').toString('base64') },
        'source_data',
      ],
      ['source_name a path', { source_data: 'UEsFBg==', source_name: '../x.zip' }, 'source_name'],
      ['neither source', { nonce: NONCE }, 'source_data'],
      [
        'both sources',
        { repo_url: 'https://example.com/r.git', source_data: 'UEsFBg==' },
        'repo_url',
      ],
      ['config not an object', { source_data: 'UEsFBg==', config: 'x' }, 'config'],
      [
        'config field',
        { source_data: 'UEsFBg==', config: { ...scriptedConfig('ok'), input: { cmd: '' } } },
        'config.input.cmd',
      ],
      [
        'config unknown key',
        { source_data: 'UEsFBg==', config: { ...scriptedConfig('ok'), extra: 1 } },
        'config.extra',
      ],
      [
        'dependencies_data bad base64',
        { source_data: 'UEsFBg==', dependencies_data: '***' },
        'dependencies_data',
      ],
      ['unknown field', { source_data: 'UEsFBg==', colour: 'red' }, 'colour'],
      ['workdir not a string', { source_data: 'UEsFBg==', workdir: 42 }, 'workdir'],
      ['workdir empty', { source_data: 'UEsFBg==', workdir: '' }, 'workdir'],
      ['workdir absolute', { source_data: 'UEsFBg==', workdir: '/etc' }, 'workdir'],
      ['workdir with ..', { source_data: 'UEsFBg==', workdir: 'examples/../..' }, 'workdir'],
      ['workdir with an empty component', { source_data: 'UEsFBg==', workdir: 'a//b' }, 'workdir'],
      ['workdir ending in /', { source_data: 'UEsFBg==', workdir: 'examples/' }, 'workdir'],
      ['workdir with a . component', { source_data: 'UEsFBg==', workdir: './examples' }, 'workdir'],
      [
        'workdir with a dots-only component',
        { source_data: 'UEsFBg==', workdir: 'a/...' },
        'workdir',
      ],
      ['workdir with NUL', { source_data: 'UEsFBg==', workdir: 'a\u0000b' }, 'workdir'],
      ['workdir with a newline', { source_data: 'UEsFBg==', workdir: 'a\nb' }, 'workdir'],
      ['workdir with a backslash', { source_data: 'UEsFBg==', workdir: 'a\\b' }, 'workdir'],
      ['workdir inside .git', { source_data: 'UEsFBg==', workdir: '.git/hooks' }, 'workdir'],
      ['workdir too long', { source_data: 'UEsFBg==', workdir: 'a/'.repeat(512) + 'a' }, 'workdir'],
      ['repository not a string', { source_data: 'UEsFBg==', repository: ['x'] }, 'repository'],
      [
        'repository not a URL',
        { source_data: 'UEsFBg==', repository: 'example/hello' },
        'repository',
      ],
      [
        'repository over ssh',
        { source_data: 'UEsFBg==', repository: 'ssh://git@example.com/o/r.git' },
        'repository',
      ],
      [
        'repository over http when not allowed',
        { source_data: 'UEsFBg==', repository: 'http://example.com/o/r' },
        'repository',
      ],
      [
        'repository with credentials',
        { source_data: 'UEsFBg==', repository: 'https://token@example.com/o/r' },
        'repository',
      ],
      [
        'repository with a query',
        { source_data: 'UEsFBg==', repository: 'https://example.com/o/r?tab=code' },
        'repository',
      ],
      [
        'repository with a fragment',
        { source_data: 'UEsFBg==', repository: 'https://example.com/o/r#readme' },
        'repository',
      ],
      [
        'repository with whitespace',
        { source_data: 'UEsFBg==', repository: 'https://example.com/o/r\n' },
        'repository',
      ],
      [
        'repository without a path',
        { source_data: 'UEsFBg==', repository: 'https://example.com/' },
        'repository',
      ],
      [
        'repository too long',
        { source_data: 'UEsFBg==', repository: `https://example.com/${'o'.repeat(2048)}` },
        'repository',
      ],
      [
        'repository with repo_url',
        { repo_url: 'https://example.com/r.git', repository: 'https://example.com/o/r' },
        'repository',
      ],
    ];
    it.each(cases)('%s', async (_name, body, field) => {
      await expectError(await postBuild(agent, body), 400, 'invalid_request', field);
    });

    it('a body that is not JSON', async () => {
      const res = await agent.fetch('/build', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{',
      });
      await expectError(res, 400, 'invalid_request', 'body');
    });
  });

  describe('when a multipart field is wrong, it answers 400 naming the field', () => {
    const cases: [string, (f: FormData) => void, string][] = [
      ['unknown field', (f) => f.append('colour', 'red'), 'colour'],
      ['unknown file part', (f) => f.append('binary', new Blob(['x']), 'x.bin'), 'binary'],
      [
        'nonce given twice',
        (f) => {
          f.append('nonce', NONCE);
          f.append('nonce', NONCE);
        },
        'nonce',
      ],
      ['ref without repo_url', (f) => f.append('ref', 'main'), 'ref'],
      ['config not JSON', (f) => f.append('config', '{'), 'config'],
      ['workdir with ..', (f) => f.append('workdir', '../outside'), 'workdir'],
      ['workdir empty', (f) => f.append('workdir', ''), 'workdir'],
      [
        'workdir given twice',
        (f) => {
          f.append('workdir', 'examples');
          f.append('workdir', 'examples');
        },
        'workdir',
      ],
      [
        'repository with a query',
        (f) => f.append('repository', 'https://e.com/o/r?x=1'),
        'repository',
      ],
      [
        'repository with repo_url',
        (f) => {
          f.append('repository', 'https://example.com/o/r');
          f.append('repo_url', 'https://example.com/r.git');
        },
        'repository',
      ],
    ];
    it.each(cases)('%s', async (_name, add, field) => {
      const form = new FormData();
      form.append('source', new Blob([await readFile(zipFile)]), 'source.zip');
      add(form);
      await expectError(
        await agent.fetch('/build', { method: 'POST', body: form }),
        400,
        'invalid_request',
        field,
      );
    });

    it('a source that is not an archive', async () => {
      const form = new FormData();
      form.append('source', new Blob(['hello']), 'source.zip');
      await expectError(
        await agent.fetch('/build', { method: 'POST', body: form }),
        400,
        'invalid_request',
        'source',
      );
    });
  });

  it('when a multipart field is bad, it answers before the rest of the upload is sent', async () => {
    const boundary = 'tc-test-boundary';
    const url = new URL(`${agent.url}/build`);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${TEST_TOKEN}`,
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': String(64 * 1024 * 1024),
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      // Only the first field: the announced 64 MiB never follow.
      req.write(
        `--${boundary}\r\nContent-Disposition: form-data; name="nonce"\r\n\r\nnot-hex\r\n--${boundary}\r\n`,
      );
    });
    expect(status.status).toBe(400);
    expect(JSON.parse(status.body)).toMatchObject({ error: { field: 'nonce' } });
  });

  it('when the body is neither JSON nor multipart, it answers 415', async () => {
    const res = await agent.fetch('/build', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'x',
    });
    await expectError(res, 415, 'unsupported_media_type');
  });

  it('when a JSON body is over its limit, it answers 413', async () => {
    const res = await postBuild(agent, { source_data: 'A'.repeat(300 * 1024) });
    await expectError(res, 413, 'payload_too_large', 'body');
  });

  it('when a decoded source_data is over the source limit, it answers 413 naming it', async () => {
    const res = await postBuild(agent, {
      source_data: Buffer.alloc(150 * 1024, 1).toString('base64'),
    });
    await expectError(res, 413, 'payload_too_large', 'source_data');
  });

  it('when a multipart source part is over its limit, it answers 413 naming the part', async () => {
    const big = join(work, 'big.zip');
    await writeProject(work, { 'big.zip': 'PK\x03\x04' + 'x'.repeat(200 * 1024) });
    const r = await curl([
      '-X',
      'POST',
      `${agent.url}/build`,
      '-H',
      'Authorization: Bearer test-token-0123456789abcdef',
      '-H',
      'Transfer-Encoding: chunked',
      '-F',
      `source=@${big}`,
    ]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({
      error: { type: 'payload_too_large', field: 'source' },
    });
    // Nothing of the refused upload stays on disk: every job directory has its record.
    const jobs = await readdir(join(agent.dataDir, 'jobs'));
    for (const id of jobs)
      await expect(stat(join(agent.dataDir, 'jobs', id, 'job.json'))).resolves.toBeTruthy();
  });

  it('when a job id is unknown or malformed, it answers 404', async () => {
    await expectError(
      await agent.fetch('/build/3f1c2a7e-1111-4222-8333-444455556666'),
      404,
      'not_found',
    );
    await expectError(await agent.fetch('/build/..%2F..%2Fetc'), 404, 'not_found');
    await expectError(
      await agent.fetch('/build/3f1c2a7e-1111-4222-8333-444455556666/result'),
      404,
      'not_found',
    );
    await expectError(await agent.fetch('/nothing-here'), 404, 'not_found');
  });

  it('when a route is called with the wrong method, it answers 405 with Allow', async () => {
    const res = await agent.fetch('/build', { method: 'GET' });
    expect(res.headers.get('allow')).toBe('POST');
    await expectError(res, 405, 'method_not_allowed');
  });

  it('when a result is asked while the job runs, it answers 409; when cancelled, the enclave is stopped', async () => {
    const res = await postBuild(agent, { source_data: zipB64, config: scriptedConfig('hold') });
    const { job_id } = await json<{ job_id: string }>(res);
    await waitFor(() => executor.holding().includes(job_id));
    await expectError(await agent.fetch(`/build/${job_id}/result`), 409, 'not_finished');
    const del = await agent.fetch(`/build/${job_id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(await json(del)).toMatchObject({ state: 'cancelled', error: { type: 'cancelled' } });
    expect([...backend.running].filter((id) => id.includes(job_id))).toEqual([]);
    const result = await agent.fetch(`/build/${job_id}/result`);
    const body = await json<{ error: { type: string; job_state: string } }>(result);
    expect(result.status).toBe(409);
    expect(body.error).toMatchObject({ type: 'no_result', job_state: 'cancelled' });
    await expectError(
      await agent.fetch(`/build/${job_id}`, { method: 'DELETE' }),
      409,
      'already_finished',
    );
  });

  it('when a build fails, the job is failed with the error type and code, and its result answers 409 with it', async () => {
    const { job_id } = await json<{ job_id: string }>(
      await postBuild(agent, { source_data: zipB64, config: scriptedConfig('fail') }),
    );
    const view = await waitFinished(agent.fetch, job_id);
    expect(view).toMatchObject({
      state: 'failed',
      error: { type: 'build_failed', code: 'WORKER_BUILD_FAILED' },
    });
    const res = await agent.fetch(`/build/${job_id}/result`);
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({
      error: { type: 'no_result', job_error: { type: 'build_failed' } },
    });
  });

  it('when a build asks for more than the host can ever give, it fails with resources_exceeded', async () => {
    const cfg = scriptedConfig('ok', { resources: { memoryMiB: 1_048_576 } });
    const { job_id } = await json<{ job_id: string }>(
      await postBuild(agent, { source_data: zipB64, config: cfg }),
    );
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { type: 'resources_exceeded' },
    });
  });

  it('when an uploaded archive escapes its directory, the job fails with source_invalid', async () => {
    const { writeTarFile } = await import('../../src/archive/node.js');
    const evil = join(work, 'evil.tar.gz');
    await writeTarFile(
      [
        { path: 'build.json', type: 'file', size: 2, content: Buffer.from('{}') },
        { path: 'link', type: 'symlink', linkTarget: '../../etc/passwd' },
      ],
      evil,
      { gzip: true },
    );
    const data = (await readFile(evil)).toString('base64');
    const { job_id } = await json<{ job_id: string }>(
      await postBuild(agent, { source_data: data }),
    );
    expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
      state: 'failed',
      error: { type: 'source_invalid', code: 'AGENT_SOURCE_INVALID' },
    });
  });

  it('when /metrics is scraped, it reports jobs by state, queue, enclaves, durations and bytes served', async () => {
    const res = await agent.fetch('/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^tee_compile_agent_jobs\{state="succeeded"\} [1-9]/m);
    expect(text).toMatch(/^tee_compile_agent_queue_length 0$/m);
    expect(text).toMatch(/^tee_compile_agent_running_enclaves 0$/m);
    expect(text).toMatch(
      /^tee_compile_agent_build_duration_seconds_count\{outcome="succeeded"\} [1-9]/m,
    );
    expect(text).toMatch(/^tee_compile_agent_result_bytes_served_total [1-9]/m);
  });

  it('never writes the token or a request body to its log', () => {
    const all = JSON.stringify(agent.logs);
    expect(all).not.toContain('test-token-0123456789abcdef');
    expect(all).not.toContain(zipB64.slice(0, 40));
    expect(agent.logs.some((l) => l.msg === 'job accepted' && typeof l.job_id === 'string')).toBe(
      true,
    );
  });
});

describe('agent queue and budget (stand-in backend)', () => {
  it('when 4 jobs arrive with --max-concurrent 2 and room for one enclave, they run one enclave at a time, in order', async () => {
    const executor = new ScriptedExecutor();
    const backend = new StandInBackend();
    const agent = await startTestAgent({
      executor,
      backend,
      config: { maxConcurrent: 2, capacity: { enclaves: 1 } },
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await postBuild(agent, { source_data: zipB64, config: scriptedConfig('hold') });
        ids.push((await json<{ job_id: string }>(res)).job_id);
      }
      // Jobs 1 and 2 run (preparing concurrently); whichever asks first takes the one enclave.
      await waitFor(() => executor.holding().length === 1);
      const first = executor.holding()[0]!;
      expect(ids.slice(0, 2)).toContain(first);
      const other = ids.slice(0, 2).find((id) => id !== first)!;
      await waitFor(
        async () =>
          (await json(await agent.fetch(`/build/${other}`))).phase === 'waiting-for-resources',
      );
      expect(await json(await agent.fetch(`/build/${ids[2]}`))).toMatchObject({ state: 'queued' });
      expect(await json(await agent.fetch(`/build/${ids[3]}`))).toMatchObject({ state: 'queued' });
      const done = new Set<string>();
      while (done.size < 4) {
        await waitFor(() => executor.holding().length === 1);
        const id = executor.holding()[0]!;
        executor.release(id);
        expect((await waitFinished(agent.fetch, id)).state).toBe('succeeded');
        done.add(id);
      }
      expect(backend.maxRunning).toBe(1);
      const order = backend.started.map((s) => s.buildId);
      expect([...order].sort()).toEqual([...ids].sort());
      // FIFO: the last two start only after the first two.
      expect(order.slice(2).sort()).toEqual(ids.slice(2).sort());
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });

  it('when a queued job is cancelled, it leaves the queue and never starts', async () => {
    const executor = new ScriptedExecutor();
    const backend = new StandInBackend();
    const agent = await startTestAgent({ executor, backend, config: { maxConcurrent: 1 } });
    try {
      const a = (
        await json<{ job_id: string }>(
          await postBuild(agent, { source_data: zipB64, config: scriptedConfig('hold') }),
        )
      ).job_id;
      const b = (await json<{ job_id: string }>(await postBuild(agent, { source_data: zipB64 })))
        .job_id;
      await waitFor(() => executor.holding().includes(a));
      const del = await agent.fetch(`/build/${b}`, { method: 'DELETE' });
      expect(await json(del)).toMatchObject({ state: 'cancelled', started_at: null });
      executor.release(a);
      await waitFinished(agent.fetch, a);
      expect(backend.started.map((s) => s.buildId)).toEqual([a]);
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });

  it('when the data directory is over its budget, new jobs get 507', async () => {
    const agent = await startTestAgent({
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      config: { limits: { maxDataBytes: 1 } },
    });
    try {
      await writeProject(agent.dataDir, { 'filler.bin': 'x'.repeat(1024) });
      await expectError(
        await postBuild(agent, { source_data: zipB64 }),
        507,
        'insufficient_storage',
      );
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });

  it('in single-build mode, a second POST /build gets 409', async () => {
    const agent = await startTestAgent({
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      config: { singleBuild: true },
    });
    try {
      const { job_id } = await json<{ job_id: string }>(
        await postBuild(agent, { source_data: zipB64 }),
      );
      await expectError(await postBuild(agent, { source_data: zipB64 }), 409, 'single_build_used');
      await waitFinished(agent.fetch, job_id);
      const res = await agent.fetch(`/build/${job_id}/result`);
      await res.arrayBuffer();
      await agent.running.agent.singleBuildServed;
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });

  it('in single-build mode, a refused submission does not use up the one build', async () => {
    const agent = await startTestAgent({
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      config: { singleBuild: true },
    });
    try {
      await expectError(await postBuild(agent, { nonce: 'xy' }), 400, 'invalid_request', 'nonce');
      expect((await postBuild(agent, { source_data: zipB64 })).status).toBe(202);
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });
});

describe('agent that accepts plain HTTP repositories (stand-in backend)', () => {
  it('when allowHttpRepos is set, an http:// repository is accepted and recorded in the normal form', async () => {
    const executor = new ScriptedExecutor();
    const agent = await startTestAgent({
      executor,
      backend: new StandInBackend(),
      config: { allowHttpRepos: true },
    });
    try {
      const res = await postBuild(agent, {
        source_data: zipB64,
        repository: 'http://127.0.0.1:8080/example/hello',
      });
      expect(res.status).toBe(202);
      const { job_id } = await json<{ job_id: string }>(res);
      expect(await waitFinished(agent.fetch, job_id)).toMatchObject({
        state: 'succeeded',
        source: { repository: 'https://127.0.0.1:8080/example/hello' },
      });
      expect(executor.jobs[0]?.repository).toBe('https://127.0.0.1:8080/example/hello');
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });
});
