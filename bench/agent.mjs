// Benchmark of the agent (tee-compile agent) against a direct build, and of its result and event
// serving.
//
//   npm run build && node bench/agent.mjs [--runs 5] [--bundle-mib 512] [--subscribers 100] [--log-events 2000]
//
// 1. Latency: a tiny go project (no dependencies, its build writes one file) built through the
//    agent (`tee-compile agent --backend local`, a real process: submit as JSON, follow the event
//    stream, download the bundle) and directly (`tee-compile build --local`), alternating,
//    `--runs` times each. Printed: medians of submit -> first event, submit -> bundle downloaded,
//    the direct build, and the ratio agent/direct.
// 2. Result download: an agent process whose executor writes a `--bundle-mib` bundle (streamed to
//    disk, never held in memory) serves it; downloaded with fetch and with curl. Printed: MB/s of
//    each, against reading the same file from disk in the same run.
// 3. Event fan-out: `--subscribers` SSE clients (the eventsource package) follow one job that
//    emits `--log-events` log events. Printed: time from the job's start to the last client's
//    `complete`, and whether every client got every event.
//
// Needs root or unprivileged user namespaces (the local backend's sandbox), git, curl.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin/tee-compile.js');
const TOKEN = 'bench-token-0123456789abcdef';
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'bundle-mib': { type: 'string', default: '512' },
    subscribers: { type: 'string', default: '100' },
    'log-events': { type: 'string', default: '2000' },
    serve: { type: 'string' },
  },
});
const run = promisify(execFile);

// ---- child mode: an agent whose executor makes large bundles or many events ----

if (args.serve !== undefined) {
  const { startAgent, resolveSettings, createLogger } = await import('../lib/agent/index.js');
  const { readTokenFile } = await import('../lib/agent/auth.js');
  const settings = await resolveSettings(
    {
      backend: 'local',
      listen: '127.0.0.1:0',
      dataDir: args.serve,
      maxConcurrent: 4,
      logLevel: 'warn',
      limits: { minFreeBytes: 0 },
    },
    {},
    { cwd: process.cwd() },
  );
  const executor = {
    async run(job, ctx) {
      const [verb, n] = String(job.config?.input?.cmd ?? '').split(':');
      ctx.onProgress({ kind: 'phase', phase: 'building' });
      if (verb === 'logs') {
        // Paced in small bursts, as a build's output arrives.
        for (let i = 0; i < Number(n); i++) {
          ctx.onProgress({ kind: 'log', stream: 'build', text: `line ${i} ${'x'.repeat(60)}` });
          if (i % 50 === 49) await new Promise((r) => setTimeout(r, 1));
        }
      }
      const out = createWriteStream(job.bundleFile);
      const chunk = randomBytes(1 << 20);
      for (let i = 0; i < (verb === 'bundle' ? Number(n) : 1); i++) {
        chunk[0] = i & 0xff;
        if (!out.write(Buffer.from(chunk))) await new Promise((r) => out.once('drain', r));
      }
      await new Promise((r) => out.end(r));
      return { bundleFile: job.bundleFile, subjects: [], source: null };
    },
  };
  const backend = {
    name: 'local',
    start: () => Promise.reject(new Error('no enclaves here')),
    cleanupOrphans: async () => [],
  };
  const running = await startAgent({
    settings,
    backend,
    executor,
    logger: createLogger(process.stderr, 'warn'),
    token: await readTokenFile(join(args.serve, '..', 'token')),
  });
  process.stdout.write(JSON.stringify({ url: running.url }) + '\n');
  process.on('SIGTERM', () => void running.stop().then(() => process.exit(0)));
  await new Promise(() => undefined);
}

// ---- helpers ----

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
const auth = { Authorization: `Bearer ${TOKEN}` };

/** Starts a process and resolves with the URL it announces (agent: its `listening` log line). */
function startProcess(argv, pick) {
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (b) => {
      buf += b.toString();
      for (const line of buf.split('\n')) {
        try {
          const url = pick(JSON.parse(line));
          if (url) return resolve({ child, url });
        } catch {
          // not JSON yet
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${buf}`)));
  });
}

async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function submit(url, body) {
  const res = await fetch(`${url}/build`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
  return (await res.json()).job_id;
}

/** Reads a job's raw event stream to `complete`; returns when the first event and complete came. */
async function follow(url, id, t0) {
  const res = await fetch(`${url}/build/${id}/events`, { headers: auth });
  const reader = res.body.getReader();
  let text = '';
  let first = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
    if (first === null && text.includes('\nevent: ')) first = performance.now() - t0;
    if (text.includes('event: complete')) break;
  }
  await reader.cancel().catch(() => undefined);
  if (!/event: complete\ndata: \{"ok":true/.test(text))
    throw new Error(`job ${id} failed: ${text.slice(-400)}`);
  return first;
}

async function download(url, id) {
  const res = await fetch(`${url}/build/${id}/result`, { headers: auth });
  const reader = res.body.getReader();
  let n = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    n += value.length;
  }
  if (n !== Number(res.headers.get('content-length'))) throw new Error('short download');
  return n;
}

const work = await mkdtemp(join(tmpdir(), 'tc-bench-agent-'));
await writeFile(join(work, 'token'), TOKEN + '\n', { mode: 0o600 });
console.log(`tee-compile agent benchmark (${cpus().length} CPUs, load ${loadavg()[0].toFixed(2)})`);

try {
  // ---- 1. latency against a direct build ----
  const repo = join(work, 'tiny');
  await mkdir(repo);
  await writeFile(join(repo, 'go.mod'), 'module example.com/tiny\n\ngo 1.19\n');
  await writeFile(
    join(repo, 'build.json'),
    JSON.stringify({
      language: 'go',
      input: { cmd: 'echo tiny > out.txt' },
      output: { files: ['out.txt'] },
    }),
  );
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'b',
    GIT_AUTHOR_EMAIL: 'b@x',
    GIT_COMMITTER_NAME: 'b',
    GIT_COMMITTER_EMAIL: 'b@x',
  };
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: repo, env });
  execFileSync('git', ['add', '-A'], { cwd: repo, env });
  execFileSync('git', ['commit', '-qm', 'tiny'], { cwd: repo, env });
  execFileSync('tar', ['-czf', join(work, 'tiny.tar.gz'), '-C', repo, '.']);
  const sourceData = (await readFile(join(work, 'tiny.tar.gz'))).toString('base64');
  const agent = await startProcess(
    [
      BIN,
      'agent',
      '--backend',
      'local',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      join(work, 'data'),
      '--token-file',
      join(work, 'token'),
    ],
    (l) => l.msg === 'listening' && l.url,
  );
  const firstEvent = [];
  const viaAgent = [];
  const direct = [];
  const runs = Number(args.runs);
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const id = await submit(agent.url, {
      source_data: sourceData,
      nonce: randomBytes(32).toString('hex'),
    });
    firstEvent.push(await follow(agent.url, id, t0));
    await download(agent.url, id);
    viaAgent.push(performance.now() - t0);
    const t1 = performance.now();
    await run(process.execPath, [
      BIN,
      'build',
      repo,
      '--local',
      '--out',
      join(work, `direct-${i}.tar.gz`),
    ]);
    direct.push(performance.now() - t1);
  }
  await stop(agent.child);
  console.log('\n1. tiny project, median of', runs);
  console.log(`   agent: submit -> first event      ${secs(median(firstEvent))}`);
  console.log(`   agent: submit -> bundle received  ${secs(median(viaAgent))}`);
  console.log(`   direct: tee-compile build --local ${secs(median(direct))}`);
  console.log(
    `   ratio agent/direct                ${(median(viaAgent) / median(direct)).toFixed(2)}`,
  );

  // ---- 2 and 3: an agent serving large bundles and many events ----
  const serveDir = join(work, 'serve');
  const server = await startProcess(
    [fileURLToPath(import.meta.url), '--serve', serveDir],
    (l) => l.url,
  );
  const mib = Number(args['bundle-mib']);
  const big = await submit(server.url, {
    source_data: sourceData,
    config: { language: 'go', input: { cmd: `bundle:${mib}` }, output: { files: ['x'] } },
  });
  await follow(server.url, big, performance.now());
  const file = join(serveDir, 'jobs', big, 'result.tar.gz');
  // Baseline: the same file read from disk (page cache warm, as for the downloads).
  const readFileRate = async () => {
    const t = performance.now();
    let n = 0;
    for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) n += c.length;
    return n / 1e6 / ((performance.now() - t) / 1000);
  };
  await readFileRate();
  const disk = await readFileRate();
  const t2 = performance.now();
  const bytes = await download(server.url, big);
  const viaFetch = bytes / 1e6 / ((performance.now() - t2) / 1000);
  const { stdout } = await run('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-H',
    `Authorization: Bearer ${TOKEN}`,
    '-w',
    '%{speed_download}',
    `${server.url}/build/${big}/result`,
  ]);
  const viaCurl = Number(stdout) / 1e6;
  console.log(`\n2. result download, ${mib} MiB bundle`);
  console.log(`   disk read (baseline)  ${disk.toFixed(0)} MB/s`);
  console.log(
    `   fetch                 ${viaFetch.toFixed(0)} MB/s (${(viaFetch / disk).toFixed(2)} of disk)`,
  );
  console.log(
    `   curl                  ${viaCurl.toFixed(0)} MB/s (${(viaCurl / disk).toFixed(2)} of disk)`,
  );

  const { EventSource } = await import('eventsource');
  const n = Number(args.subscribers);
  const logEvents = Number(args['log-events']);
  const id = await submit(server.url, {
    source_data: sourceData,
    config: { language: 'go', input: { cmd: `logs:${logEvents}` }, output: { files: ['x'] } },
  });
  const t3 = performance.now();
  const counts = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve, reject) => {
          let got = 0;
          const es = new EventSource(`${server.url}/build/${id}/events`, {
            fetch: (u, init) => fetch(u, { ...init, headers: { ...init.headers, ...auth } }),
          });
          for (const t of ['queued', 'started', 'phase', 'log'])
            es.addEventListener(t, () => got++);
          es.addEventListener('complete', () => {
            es.close();
            resolve({ got: got + 1, at: performance.now() - t3 });
          });
          es.onerror = (e) => e.code && reject(new Error(`subscriber: ${e.code}`));
        }),
    ),
  );
  const total = (
    await (await fetch(`${server.url}/build/${id}/events`, { headers: auth })).text()
  ).match(/^event: /gm).length;
  await stop(server.child);
  const allMatch = counts.every((c) => c.got === total);
  console.log(
    `\n3. event fan-out: ${n} subscribers, one job with ${logEvents} log events (${total} events in all)`,
  );
  console.log(`   last subscriber complete after    ${secs(Math.max(...counts.map((c) => c.at)))}`);
  console.log(
    `   every subscriber got every event  ${allMatch ? 'yes' : `NO (${[...new Set(counts.map((c) => c.got))].join(', ')})`}`,
  );
  if (!allMatch) process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
