/**
 * Streaming bundle verification against `zcat bundle | sha256sum` on the same bundle, measured in
 * the same run: peak RSS of the verifying process and the wall-time ratio. Run from the
 * repository root:
 *
 *   npx esbuild bench/verify-bundle.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=bench/.work/verify-bundle.mjs && node bench/.work/verify-bundle.mjs
 *
 * BENCH_SIZES (MiB, comma-separated; default 16,512,4096) sets the bundles' artifact bytes.
 * Artifacts are 1 GiB at most each, half random and half repetitive text per MiB (so that gzip
 * has work to do both ways), written by the real bundle writer (gzip level 9) and attested by the
 * software NSM. Each bundle is verified in a fresh process (`--child`) so that its peak RSS is its
 * own. Targets (issue 12): RSS <= 256 MiB for any bundle, time <= 1.3 x the baseline.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { writeBundle } from '../src/bundle/node.js';
import { verifyBundle } from '../src/verify/index.js';
import { openBundleFile } from '../src/verify/node.js';
import { VERIFIED_AT, makeBundle } from '../test/support/bundles/bundle-factory.js';
import { simulatedPolicy } from '../test/support/bundles/verify-policy.js';

const WORK = 'bench/.work/verify-bundle';
const MiB = 1024 ** 2;
const SIZES = (process.env.BENCH_SIZES ?? '16,512,4096').split(',').map(Number);
const TARGET_RSS = 256 * MiB;
const TARGET_RATIO = 1.3;

async function artifact(file: string, bytes: number): Promise<string> {
  const h = createHash('sha256');
  const out = createWriteStream(file);
  const text = Buffer.from(
    'tee-compile bundle benchmark line of text, repeated\n'.repeat(10_083),
  ).subarray(0, MiB / 2);
  for (let done = 0; done < bytes; done += MiB) {
    const n = Math.min(MiB, bytes - done);
    const chunk = Buffer.concat([randomBytes(MiB / 2), text]).subarray(0, n);
    h.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}

async function makeFixture(mib: number): Promise<string> {
  const file = join(WORK, `bundle-${mib}.tar.gz`);
  if (existsSync(file)) return file;
  const files: { name: string; file: string; sha256: string }[] = [];
  for (let left = mib * MiB, i = 0; left > 0; i++) {
    const size = Math.min(left, 1024 * MiB);
    const f = join(WORK, `artifact-${mib}-${i}.bin`);
    files.push({ name: `dist/part-${i}.bin`, file: f, sha256: await artifact(f, size) });
    left -= size;
  }
  const b = await makeBundle({
    outputs: {},
    digests: files.map(({ name, sha256 }) => ({ name, sha256 })),
  });
  await writeBundle(`${file}.tmp`, {
    provenance: b.contents.provenance,
    attestation: b.contents.attestation,
    log: b.contents.log,
    artifacts: files.map((f) => ({ name: f.name, file: f.file })),
  });
  for (const f of files) rmSync(f.file);
  execFileSync('mv', [`${file}.tmp`, file]);
  return file;
}

function baseline(file: string): number {
  const t0 = performance.now();
  execFileSync('bash', ['-c', 'zcat "$1" | sha256sum >/dev/null', 'bench', file]);
  return (performance.now() - t0) / 1000;
}

function ours(file: string): { seconds: number; rss: number } {
  const r = spawnSync(process.execPath, [process.argv[1]!, '--child', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`verification failed:\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as { seconds: number; rss: number };
}

async function child(file: string): Promise<void> {
  const policy = await simulatedPolicy();
  const t0 = performance.now();
  const r = await verifyBundle(await openBundleFile(file), policy, { now: VERIFIED_AT });
  const seconds = (performance.now() - t0) / 1000;
  if (!r.ok) throw new Error(`refused: ${r.code}: ${r.message}`);
  process.stdout.write(JSON.stringify({ seconds, rss: process.resourceUsage().maxRSS * 1024 }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!);
  mkdirSync(WORK, { recursive: true });
  console.log('bundle (artifacts)  size on disk  zcat|sha256sum  verifyBundle  ratio  peak RSS');
  let ok = true;
  for (const mib of SIZES) {
    const file = await makeFixture(mib);
    // Warm the page cache for both, then alternate: best of three each.
    baseline(file);
    const b: number[] = [];
    const o: { seconds: number; rss: number }[] = [];
    for (let i = 0; i < 3; i++) {
      b.push(baseline(file));
      o.push(ours(file));
    }
    const base = Math.min(...b);
    const mine = Math.min(...o.map((x) => x.seconds));
    const rss = Math.max(...o.map((x) => x.rss));
    const ratio = mine / base;
    ok &&= ratio <= TARGET_RATIO && rss <= TARGET_RSS;
    console.log(
      `${String(mib).padStart(6)} MiB          ${(statSync(file).size / MiB).toFixed(0).padStart(6)} MiB    ${base.toFixed(2).padStart(8)} s    ${mine.toFixed(2).padStart(8)} s  ${ratio.toFixed(2)}x  ${(rss / MiB).toFixed(0)} MiB`,
    );
  }
  console.log(
    `targets: ratio <= ${TARGET_RATIO}, peak RSS <= ${TARGET_RSS / MiB} MiB: ${ok ? 'met' : 'NOT met'}`,
  );
}

await main();
