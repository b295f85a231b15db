// Benchmark of attested builds against plain builds, and of the client -> worker channel.
//
//   npm run build && node bench/build.mjs [--runs 5] [--large-modules 26] [--throughput-runs 3] [--skip-tiny] [--skip-large] [--skip-throughput]
//
// 1. A tiny project (examples/rust-hello) and a generated Rust crate whose build takes 30 s or
//    more are each built plain (their own command, in a fresh copy) and attested
//    (`tee-compile build --local`, as a user runs it), alternating, `--runs` times each. Printed:
//    medians, the ratio attested/plain, the fixed overhead in seconds, and where the attested
//    run's time goes (from the progress lines, timestamped as they arrive).
// 2. The channel: 1 GiB sent with the protocol client over loopback TCP to a worker-side receiver
//    in another process, once discarding and once writing to disk. Printed: MB/s.
//
// Needs root or unprivileged user namespaces (the local backend's sandbox), cargo, git.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin/tee-compile.js');
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'large-modules': { type: 'string', default: '26' },
    'skip-tiny': { type: 'boolean', default: false },
    'skip-large': { type: 'boolean', default: false },
    'skip-throughput': { type: 'boolean', default: false },
    'throughput-runs': { type: 'string', default: '3' },
    receiver: { type: 'string' },
  },
});

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
};

function git(dir, argv) {
  return execFileSync('git', argv, {
    cwd: dir,
    env: { ...process.env, ...GIT_ENV },
    encoding: 'utf8',
  }).trim();
}

function commit(dir) {
  git(dir, ['init', '-q', '-b', 'main']);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', 'bench']);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

/**
 * CPU time (user + system, ms) of a command and every process it waited for, written by GNU time
 * to `file`: unlike wall time, it does not grow with the load other processes put on the machine.
 */
async function cpuOf(file) {
  const [u, sy] = (await readFile(file, 'utf8')).trim().split('\n').at(-1).split(' ').map(Number);
  return (u + sy) * 1000;
}

/** Runs `argv` under GNU time; resolves with its wall and CPU time (ms) and its stderr. */
function timed(argv, opts, cpuFile) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, ...argv], {
      ...opts,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    const lines = [];
    let buf = '';
    child.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push([buf.slice(0, i), performance.now() - t0]);
        buf = buf.slice(i + 1);
      }
    });
    child.on('close', (code) => {
      const wall = performance.now() - t0;
      if (code !== 0) reject(new Error(`${argv.join(' ')}: exit ${code}\n${err}`));
      else cpuOf(cpuFile).then((cpu) => resolve({ wall, cpu, lines }), reject);
    });
  });
}

/** A plain build: a fresh copy of `project`, then its own command, timed. */
async function plain(project, config) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-plain-'));
  await cp(project, dir, { recursive: true, filter: (s) => !/\/(\.git|target)$/.test(s) });
  try {
    return await timed(
      ['bash', '-c', config.input.cmd],
      { cwd: dir, env: { ...process.env, ...config.input.env } },
      `${dir}.cpu`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.cpu`, { force: true });
  }
}

const PHASE =
  /^tee-compile: (source|enclave|receiving|verifying-source|verifying-dependencies|building|collecting-outputs|attesting|sending)/;

/** An attested build with the CLI; resolves with wall and CPU time and each phase's start. */
async function attested(project, out) {
  const r = await timed(
    [process.execPath, BIN, 'build', project, '--local', '--out', out, '--nonce', '00'.repeat(32)],
    {},
    `${out}.cpu`,
  );
  const marks = [['start', 0]];
  for (const [line, t] of r.lines) {
    const m = PHASE.exec(line);
    if (m) marks.push([m[1], t]);
  }
  marks.push(['done', r.wall]);
  return { ...r, marks };
}

async function compare(name, project, runs) {
  const config = JSON.parse(await readFile(join(project, 'build.json'), 'utf8'));
  const work = await mkdtemp(join(tmpdir(), 'bench-out-'));
  const p = [];
  const a = [];
  const phases = new Map();
  // One unmeasured attested build first: it fills the dependency cache and page caches.
  await attested(project, join(work, 'warm.tar.gz'));
  for (let i = 0; i < runs; i++) {
    p.push(await plain(project, config));
    const r = await attested(project, join(work, `b${i}.tar.gz`));
    a.push(r);
    for (let j = 1; j < r.marks.length; j++) {
      const key = `${r.marks[j - 1][0]} -> ${r.marks[j][0]}`;
      phases.set(key, [...(phases.get(key) ?? []), r.marks[j][1] - r.marks[j - 1][1]]);
    }
    process.stderr.write(
      `  ${name} run ${i + 1}: plain ${fmt(p.at(-1).wall)} (cpu ${fmt(p.at(-1).cpu)}), attested ${fmt(r.wall)} (cpu ${fmt(r.cpu)})\n`,
    );
  }
  await rm(work, { recursive: true, force: true });
  const [mp, ma] = [median(p.map((x) => x.wall)), median(a.map((x) => x.wall))];
  const [cp, ca] = [median(p.map((x) => x.cpu)), median(a.map((x) => x.cpu))];
  console.log(`\n${name}, ${runs} runs each, medians:`);
  console.log(
    `  wall: plain ${fmt(mp)}, attested ${fmt(ma)}: ratio ${(ma / mp).toFixed(3)} (+${(((ma - mp) / mp) * 100).toFixed(1)}%), overhead ${fmt(ma - mp)}`,
  );
  console.log(
    `  cpu:  plain ${fmt(cp)}, attested ${fmt(ca)}: ratio ${(ca / cp).toFixed(3)} (+${(((ca - cp) / cp) * 100).toFixed(1)}%), overhead ${fmt(ca - cp)}`,
  );
  // Runs alternate, so each plain run has an attested neighbour under the same machine load:
  // the median of the pairwise figures is robust to load that drifts during the benchmark.
  const pairRatio = median(p.map((x, i) => a[i].wall / x.wall));
  const pairOverhead = median(p.map((x, i) => a[i].wall - x.wall));
  console.log(
    `  pairwise (plain run i, attested run i): median ratio ${pairRatio.toFixed(3)}, median overhead ${fmt(pairOverhead)}`,
  );
  console.log(
    `  load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  console.log('  attested run, median wall time from one progress line to the next:');
  for (const [k, v] of phases) console.log(`    ${k.padEnd(48)} ${fmt(median(v))}`);
}

/** examples/rust-hello in a repository of its own. */
async function tinyProject() {
  const root = await mkdtemp(join(tmpdir(), 'bench-tiny-'));
  await cp(join(ROOT, 'examples/rust-hello'), root, {
    recursive: true,
    filter: (s) => !/\/target$/.test(s),
  });
  commit(root);
  return root;
}

/** A generated Rust crate (no dependencies) of `modules` modules of 60 functions each. */
async function largeProject(modules) {
  const root = await mkdtemp(join(tmpdir(), 'bench-large-'));
  await mkdir(join(root, 'src'));
  await writeFile(
    join(root, 'Cargo.toml'),
    '[package]\nname = "big"\nversion = "0.1.0"\nedition = "2021"\n\n[profile.release]\ncodegen-units = 1\nincremental = false\n',
  );
  await writeFile(
    join(root, 'Cargo.lock'),
    '# generated\nversion = 4\n\n[[package]]\nname = "big"\nversion = "0.1.0"\n',
  );
  const calls = [];
  for (let m = 0; m < modules; m++) {
    const fns = [];
    for (let f = 0; f < 60; f++) {
      fns.push(`pub fn f${f}(x: u64) -> u64 {
    let mut v: Vec<u64> = (0..(x % 97 + ${f})).map(|i| i.wrapping_mul(${m * 60 + f + 1})).collect();
    v.sort_unstable();
    let s: u64 = v.iter().fold(${f}u64, |a, b| a.rotate_left(3) ^ b);
    let t: std::collections::BTreeMap<u64, String> = v.iter().map(|i| (*i, format!("{}-${m}", i))).collect();
    s.wrapping_add(t.len() as u64)
}`);
      if (f % 7 === 0) calls.push(`    acc ^= m${m}::f${f}(acc);`);
    }
    await writeFile(join(root, 'src', `m${m}.rs`), fns.join('\n') + '\n');
  }
  const mods = Array.from({ length: modules }, (_, m) => `mod m${m};`).join('\n');
  await writeFile(
    join(root, 'src/main.rs'),
    `${mods}\nfn main() {\n    let mut acc = 0u64;\n${calls.join('\n')}\n    println!("{}", acc);\n}\n`,
  );
  await writeFile(
    join(root, 'build.json'),
    JSON.stringify(
      {
        language: 'rust',
        input: { cmd: 'cargo build --release --locked --offline', env: {} },
        output: { files: ['target/release/big'] },
      },
      null,
      2,
    ),
  );
  await writeFile(join(root, '.gitignore'), '/target\n');
  commit(root);
  return root;
}

// --- channel throughput -------------------------------------------------------------------

const GIB = 1024 ** 3;

/** The receiving side (run in a child process): serves one build, consuming `source`. */
async function receiver(mode) {
  const { acceptOne, listenOnce, serveBuild, DEFAULT_WORKER_LIMITS } = await import(
    join(ROOT, 'lib/protocol/index.js')
  );
  const server = await listenOnce('127.0.0.1', 0);
  process.stdout.write(`${server.address().port}\n`);
  const dir = await mkdtemp(join(tmpdir(), 'bench-recv-'));
  const ws = await acceptOne(server, {
    maxPayload: DEFAULT_WORKER_LIMITS.maxFrameBytes,
    timeoutMs: 60_000,
  });
  await serveBuild(
    ws,
    { worker: 'bench', image: { name: 'bench', version: '0', language: 'rust' } },
    async (build) => {
      await build.readAll('config');
      await build.readAll('commit');
      // Several writes in flight (a write stream), as a receiver that keeps up should.
      const out =
        mode === 'disk' ? createWriteStream(join(dir, 'source'), { highWaterMark: 8 << 20 }) : null;
      for await (const c of build.stream('source')) {
        if (out && !out.write(c)) await new Promise((r) => out.once('drain', r));
      }
      if (out) await new Promise((r) => out.end(r));
      // eslint-disable-next-line no-unused-vars
      for await (const _ of build.stream('deps'));
      const { WorkerError } = await import(join(ROOT, 'lib/protocol/index.js'));
      return { ok: false, error: new WorkerError('BUILD_FAILED', 'received') };
    },
  );
  await rm(dir, { recursive: true, force: true });
}

async function throughput(mode) {
  const { submitBuild } = await import(join(ROOT, 'lib/protocol/index.js'));
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--receiver', mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve) =>
    child.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  const sock = await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
  });
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const empty = { size: 0, open: async function* () {} };
  const t0 = performance.now();
  let t1 = 0;
  await submitBuild(
    sock,
    {
      nonce: new Uint8Array(32),
      workdir: '.',
      source: { repository: null, commit: null, tree: 'a'.repeat(40), objectFormat: 'sha1' },
      inputs: {
        config: empty,
        commit: empty,
        source: {
          size: GIB,
          open: async function* () {
            for (let i = 0; i < GIB / chunk.length; i++) yield chunk;
          },
        },
        deps: empty,
      },
    },
    { bundleFile: '/dev/null', onEvent: () => undefined },
  ).catch((e) => {
    t1 = performance.now();
    if (e.code !== 'BUILD_FAILED') throw e;
  });
  const s = (t1 - t0) / 1000;
  console.log(
    `  1 GiB, receiver ${mode === 'disk' ? 'writing to disk' : 'discarding'}: ${s.toFixed(2)} s, ${(GIB / 1e6 / s).toFixed(0)} MB/s`,
  );
  const closed = new Promise((r) => child.once('close', r));
  const timer = setTimeout(() => child.kill(), 10_000);
  await closed;
  clearTimeout(timer);
}

// --- main -----------------------------------------------------------------------------------

if (args.receiver) {
  await receiver(args.receiver);
  process.exit(0);
} else {
  const runs = Number(args.runs);
  if (!args['skip-tiny']) {
    const tiny = await tinyProject();
    try {
      await compare('tiny project (examples/rust-hello)', tiny, runs);
    } finally {
      await rm(tiny, { recursive: true, force: true });
    }
  }
  if (!args['skip-large']) {
    const large = await largeProject(Number(args['large-modules']));
    try {
      await compare(`generated Rust crate (${args['large-modules']} modules)`, large, runs);
    } finally {
      await rm(large, { recursive: true, force: true });
    }
  }
  if (!args['skip-throughput']) {
    console.log('\nclient -> worker channel (WebSocket over loopback TCP, separate processes):');
    for (let i = 0; i < Number(args['throughput-runs']); i++) {
      await throughput('discard');
      await throughput('disk');
    }
  }
}
