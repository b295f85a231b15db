/**
 * Throughput of `computeTreeId` (the worker's recomputation of a source's git tree id) against
 * git itself (`git add -A && git write-tree`) and against raw hashing of the same bytes
 * (node:crypto over every file, and `openssl dgst` over their concatenation), measured in the
 * same run on the same tree. Run from the repository root:
 *
 *   npx esbuild bench/inputs.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=bench/.work/inputs.mjs && node bench/.work/inputs.mjs
 *
 * The tree (bench/.work/inputs-tree, git-ignored) is generated once: BENCH_FILES files (default
 * 20000) of mixed sizes, BENCH_MIB MiB in all (default 1100), deterministic content (AES-CTR of
 * zeros under a fixed key). Every measurement reads from the page cache: the tree is read once
 * before timing, so the figures compare hashing and per-file overhead, not the disk. Besides wall
 * time, each row shows the CPU time spent (user + system, child processes included), which stays
 * meaningful on a machine shared with other work; the ratios are given for both.
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { computeTreeId } from '../src/provenance/node.js';

const FILES = Number(process.env.BENCH_FILES ?? 20_000);
const MIB = Number(process.env.BENCH_MIB ?? 1100);
const ROOT = join('bench', '.work', 'inputs-tree');
const MARKER = join('bench', '.work', 'inputs-tree.json');

/** xorshift32: deterministic sizes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

/** File sizes: mostly small source-like files, some medium, a few large blobs; summing to MIB. */
function sizes(): number[] {
  const r = rng(0x7ee5);
  const out: number[] = [];
  for (let i = 0; i < FILES; i++) {
    const p = r();
    if (p < 0.8)
      out.push(Math.floor(r() * 16 * 1024)); // 0..16 KiB, empty files included
    else if (p < 0.98)
      out.push(Math.floor(64 * 1024 + r() * 960 * 1024)); // 64 KiB..1 MiB
    else out.push(Math.floor(4 * 1024 * 1024 + r() * 28 * 1024 * 1024)); // 4..32 MiB
  }
  const total = out.reduce((a, b) => a + b, 0);
  const scale = (MIB * 1024 * 1024) / total;
  return out.map((s) => Math.floor(s * scale));
}

function generate(): { files: string[]; bytes: number } {
  const want = JSON.stringify({ FILES, MIB, v: 1 });
  const list = sizes();
  const files = list.map((_, i) =>
    join(`d${String(i % 50).padStart(2, '0')}`, `s${String(i % 7)}`, `f${i}.dat`),
  );
  const bytes = list.reduce((a, b) => a + b, 0);
  if (existsSync(MARKER) && readFileSync(MARKER, 'utf8') === want) return { files, bytes };
  rmSync(ROOT, { recursive: true, force: true });
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 1), Buffer.alloc(16, 0));
  const zeros = Buffer.alloc(32 * 1024 * 1024);
  list.forEach((size, i) => {
    const file = join(ROOT, files[i]!);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, cipher.update(zeros.subarray(0, size)));
  });
  writeFileSync(MARKER, want);
  return { files, bytes };
}

interface Measured<T> {
  seconds: number;
  cpu: number;
  value: T;
}

async function time<T>(fn: () => Promise<T> | T): Promise<Measured<T>> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return {
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    cpu: (c.user + c.system) / 1e6,
    value,
  };
}

/** Runs a shell script under bash's `time`, returning stdout and the children's CPU seconds. */
function timedShell(script: string, cwd: string): { stdout: string; cpu: number } {
  const r = spawnSync('bash', ['-c', `TIMEFORMAT='%U %S'; time ( ${script} )`], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  const last = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { stdout: r.stdout.trim(), cpu: (last[0] ?? 0) + (last[1] ?? 0) };
}

/** node:crypto over every file's bytes, one file after another (the raw hashing floor). */
async function nodeRaw(files: string[], algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  for (const f of files) {
    const fh = await open(join(ROOT, f), 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }
  return h.digest('hex');
}

/** `openssl dgst` over the concatenation of every file (cat | openssl). */
function opensslRaw(algorithm: string): { stdout: string; cpu: number } {
  return timedShell(
    `find . -type f -name '*.dat' -print0 | xargs -0 cat | openssl dgst -${algorithm}`,
    ROOT,
  );
}

function gitWriteTree(format: 'sha1' | 'sha256'): { stdout: string; cpu: number } {
  rmSync(join(ROOT, '.git'), { recursive: true, force: true });
  const r = timedShell(
    `git init -q --object-format=${format} && git add -A && git write-tree`,
    ROOT,
  );
  rmSync(join(ROOT, '.git'), { recursive: true, force: true });
  return r;
}

async function main(): Promise<void> {
  process.stdout.write(`generating ${FILES} files, ${MIB} MiB under ${ROOT} (once)…\n`);
  const { files, bytes } = generate();
  const mb = bytes / 1e6;
  readdirSync(ROOT); // warm the page cache with one full read
  await nodeRaw(files, 'sha256');

  const rows: { name: string; seconds: number; cpu: number }[] = [];
  const run = async <T>(
    name: string,
    fn: () => Promise<T> | T,
    childCpu?: (v: T) => number,
  ): Promise<T> => {
    const r = await time(fn);
    rows.push({ name, seconds: r.seconds, cpu: r.cpu + (childCpu?.(r.value) ?? 0) });
    return r.value;
  };
  const cpuOf = (v: { cpu: number }): number => v.cpu;
  const ours1 = await run('computeTreeId sha1', () => computeTreeId(ROOT, 'sha1'));
  const git1 = await run('git add -A && git write-tree (sha1)', () => gitWriteTree('sha1'), cpuOf);
  const ours256 = await run('computeTreeId sha256', () => computeTreeId(ROOT, 'sha256'));
  const git256 = await run(
    'git add -A && git write-tree (sha256)',
    () => gitWriteTree('sha256'),
    cpuOf,
  );
  await run('node:crypto sha1, raw bytes', () => nodeRaw(files, 'sha1'));
  await run('node:crypto sha256, raw bytes', () => nodeRaw(files, 'sha256'));
  await run('openssl dgst -sha1, raw bytes', () => opensslRaw('sha1'), cpuOf);
  await run('openssl dgst -sha256, raw bytes', () => opensslRaw('sha256'), cpuOf);
  if (ours1 !== git1.stdout || ours256 !== git256.stdout) {
    throw new Error(
      `tree ids differ: ours ${ours1} / ${ours256}, git ${git1.stdout} / ${git256.stdout}`,
    );
  }

  const row = (n: string): { seconds: number; cpu: number } => rows.find((r) => r.name === n)!;
  const out = (s: string): boolean => process.stdout.write(s);
  out(`\n${files.length} files, ${mb.toFixed(0)} MB (page cache warm); tree ids equal git's\n\n`);
  out(
    `${''.padEnd(40)} ${'wall'.padStart(9)} ${'MB/s'.padStart(7)} ${'CPU'.padStart(9)} ${'MB/CPU-s'.padStart(9)}\n`,
  );
  for (const r of rows) {
    out(
      `${r.name.padEnd(40)} ${r.seconds.toFixed(2).padStart(7)} s ${(mb / r.seconds).toFixed(0).padStart(7)} ` +
        `${r.cpu.toFixed(2).padStart(7)} s ${(mb / r.cpu).toFixed(0).padStart(9)}\n`,
    );
  }
  const ratio = (a: string, b: string): string => {
    const x = row(a);
    const y = row(b);
    return `${(y.seconds / x.seconds).toFixed(2)}x wall, ${(y.cpu / x.cpu).toFixed(2)}x CPU`;
  };
  out('\nspeed of computeTreeId relative to (higher is better)\n');
  for (const f of ['sha1', 'sha256'] as const) {
    const ours = `computeTreeId ${f}`;
    out(`  ${f.padEnd(6)} git write-tree: ${ratio(ours, `git add -A && git write-tree (${f})`)}\n`);
    out(`  ${f.padEnd(6)} node:crypto raw: ${ratio(ours, `node:crypto ${f}, raw bytes`)}\n`);
    out(`  ${f.padEnd(6)} openssl raw:     ${ratio(ours, `openssl dgst -${f}, raw bytes`)}\n`);
  }
}

await main();
