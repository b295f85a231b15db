// The real-project corpus (bench/real/README.md): for each pinned project, recreate its
// repository at the upstream commit from the snapshot, build it attested (`build --local` with
// the maintainer-style build.json of projects/<name>/), verify the bundle, and build it plainly
// (the same command in a copy of the checkout, on the host) just before and just after, in the
// same run. Prints the table:
// project, language, deps, plain s, attested s, ratio (of the medians), paired (the median of
// each attested build over the plain builds around it), outside s (the attested command less its
// building phase), building s, and the attested build's phase timings.
//
//   npm run bench:real [-- <name>…]
//   TEE_COMPILE_CORPUS=<dir>   snapshots (<name>.tar.gz, <name>.commit) already fetched
//                              (default ~/.cache/tee-compile/corpus, filled by snapshot.sh from
//                              each project's repository when missing)
//   BENCH_ROUNDS=<n>           attested builds per project (default 1), each followed by a
//                              plain one; plain and attested are compared by their medians
//   BENCH_JSON=<file>          also write the results as JSON
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { corpus, here, materialize, projects, root, sh, snapshot } from './corpus.mjs';

const cli = join(root, 'bin', 'tee-compile.js');
const only = process.argv.slice(2);
const rounds = Number(process.env.BENCH_ROUNDS ?? '1');
if (!(Number.isInteger(rounds) && rounds >= 1))
  throw new Error('BENCH_ROUNDS must be a whole number >= 1');
/** The median (the mean of the middle two for an even count). */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const npmCache = join(corpus, '..', 'bench-npm-cache');

/** Runs a command, timing it; resolves with the exit code, the wall seconds and stderr. */
function timed(cmd, args, opts) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) =>
      resolve({ code, s: (performance.now() - t0) / 1000, stdout: out, stderr: err }),
    );
  });
}

/** The environment of the plain build: the host's, with what the worker also sets. */
function plainEnv(work, epoch, run) {
  return {
    ...process.env,
    CI: 'true',
    SOURCE_DATE_EPOCH: String(epoch),
    HOME: join(work, `plain-home-${run}`),
    npm_config_cache: npmCache,
    GOCACHE: join(work, `plain-gocache-${run}`),
    GOPATH: join(work, `plain-gopath-${run}`),
    GOTOOLCHAIN: 'local',
    // The host's toolchains stay where they are installed.
    CARGO_HOME: process.env.CARGO_HOME ?? join(homedir(), '.cargo'),
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(homedir(), '.rustup'),
  };
}

/** Workspaces of finished builds still being removed (src/enclave/local.ts). */
const buildsDir = join(tmpdir(), `tee-compile-${process.getuid()}`, 'builds');
function removing() {
  try {
    return readdirSync(buildsDir).filter((n) => n.startsWith('.removing-'));
  } catch {
    return [];
  }
}

/** Waits until the removals that began since `before` are done; their seconds. */
async function removalOf(before) {
  const t0 = performance.now();
  const mine = removing().filter((n) => !before.has(n));
  while (mine.some((n) => existsSync(join(buildsDir, n))) && performance.now() - t0 < 600_000)
    await new Promise((r) => setTimeout(r, 100));
  return (performance.now() - t0) / 1000;
}

const timingsOf = (stderr) => /tee-compile: timings: (.*)/.exec(stderr)?.[1] ?? '';
const depsOf = (stderr) => {
  const m = /, (\d+) locked dependenc/.exec(stderr);
  return m ? Number(m[1]) : undefined;
};

// The bundled worker script (rebuilt when lib/ changed) is made once, untimed: it is not a cost
// of a build.
{
  const { bundledWorker } = await import(join(root, 'lib', 'enclave', 'worker-bundle.js'));
  const { defaultWorkerEntry } = await import(join(root, 'lib', 'enclave', 'local.js'));
  await bundledWorker(defaultWorkerEntry(), join(buildsDir, '..'));
}

const results = [];
for (const p of projects) {
  if (only.length > 0 && !only.includes(p.name)) continue;
  const work = mkdtempSync(join(tmpdir(), `bench-real-${p.name}-`));
  const row = { project: p.name, language: p.language };
  results.push(row);
  try {
    const snap = snapshot(p);
    const repo = join(work, p.name);
    materialize(p, snap, repo);
    const build = join(here, 'projects', p.name, 'build.json');
    const cmd = JSON.parse(readFileSync(build, 'utf8')).input;
    const epoch = Number(sh('git', ['-C', repo, 'log', '-1', '--format=%ct']));
    const env = (run) => ({ ...plainEnv(work, epoch, run), ...cmd.env });
    // Warm both dependency caches first (the network is not what is measured).
    if (p.language === 'node' && p.expectError === undefined) {
      const warm = join(work, 'plain-warm');
      sh('cp', ['-a', repo, warm]);
      await timed('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: warm,
        env: env('warm'),
      });
      rmSync(warm, { recursive: true, force: true });
    }
    /** One plain build, in a fresh copy of the checkout with fresh HOME and Go caches. */
    const plainRun = async (run) => {
      const dir = join(work, `plain-${run}`);
      sh('cp', ['-a', repo, dir]);
      const r = await timed('bash', ['-c', cmd.cmd], { cwd: dir, env: env(run) });
      if (r.code !== 0) row.plainError = r.stderr.slice(-400);
      rmSync(dir, { recursive: true, force: true });
      return r.s;
    };
    // Each attested build is bracketed by plain ones (plain, attested, plain, attested, …,
    // plain); the medians are compared: the machine's load drifts, and the first run of a
    // toolchain reads it from disk.
    const plainRuns = p.expectError === undefined ? [await plainRun(1)] : [];
    // The client's dependency-set cache: filled by preparing the inputs once, untimed.
    const { prepareInputs, readProjectConfig } = await import(
      join(root, 'lib', 'client', 'inputs.js')
    );
    await prepareInputs({ dir: repo, project: await readProjectConfig(repo, build) })
      .then((prep) => prep.cleanup())
      .catch(() => undefined);
    row.attestedRuns = [];
    for (let round = 1; round <= rounds; round++) {
      const nonce = randomBytes(32).toString('hex');
      const bundle = join(work, 'bundle.tar.gz');
      const removingBefore = new Set(removing());
      const att = await timed(
        'node',
        [cli, 'build', repo, '--local', '--config', build, '--nonce', nonce, '--out', bundle],
        { cwd: work },
      );
      row.deps = depsOf(att.stderr);
      if (att.code !== 0) {
        const why = /tee-compile build: (\S+)(.*)/.exec(att.stderr);
        row.error = why ? `${why[1]}${why[2]}` : att.stderr.slice(-400);
        if (p.expectError !== undefined && why?.[1] === p.expectError) row.expected = p.reason;
        break;
      }
      row.attestedRuns.push(att.s);
      row.timingRuns = [...(row.timingRuns ?? []), timingsOf(att.stderr)];
      // The sandbox's workspace is removed in the background after the command returns: waited
      // for (untimed, reported) so that the plain build does not share the disk with it.
      row.removalS = await removalOf(removingBefore);
      const ver = await timed('node', [
        cli,
        'verify',
        bundle,
        '--allow-simulated',
        '--nonce',
        nonce,
        '--commit',
        p.commit,
      ]);
      row.verified = (row.verified ?? true) && ver.code === 0;
      rmSync(bundle, { force: true });
      plainRuns.push(await plainRun(round + 1));
    }
    if (row.error !== undefined) continue;
    row.plainRuns = plainRuns;
    row.plain = median(plainRuns);
    row.attested = median(row.attestedRuns);
    // The phases of the attested build nearest the median.
    const nearest = row.attestedRuns.reduce(
      (best, s, i) =>
        Math.abs(s - row.attested) < Math.abs(row.attestedRuns[best] - row.attested) ? i : best,
      0,
    );
    row.timings = row.timingRuns[nearest];
    row.ratio = row.attested / row.plain;
    // Each attested build against the mean of the plain builds just before and after it: the
    // machine's load drifts over minutes, and a pair shares it. Their median is the second ratio.
    row.pairRatios = row.attestedRuns.map((s, i) => s / ((plainRuns[i] + plainRuns[i + 1]) / 2));
    row.pairRatio = median(row.pairRatios);
    // What the product added outside the build command (the whole command less its building
    // phase), and the building phase itself: the first is the product's cost, the second the
    // command's, in the sandbox's memory file system.
    const building = row.timingRuns.map((t) => Number(/building ([0-9.]+) s/.exec(t)?.[1]));
    row.outside = median(row.attestedRuns.map((s, i) => s - building[i]));
    row.building = median(building);
  } catch (e) {
    row.error = String(e?.message ?? e);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const f = (n) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(2) : '-');
console.log(
  'project         language  deps  plain s  attested s  ratio  paired  outside s  building s  verified',
);
for (const r of results) {
  console.log(
    `${r.project.padEnd(15)} ${r.language.padEnd(8)} ${String(r.deps ?? '-').padStart(5)} ${f(r.plain).padStart(8)} ${f(r.attested).padStart(11)} ${f(r.ratio).padStart(6)} ${f(r.pairRatio).padStart(7)} ${f(r.outside).padStart(10)} ${f(r.building).padStart(11)}  ${r.error ? 'no' : r.verified ? 'yes' : 'NO'}`,
  );
}
for (const r of results) {
  if (r.timings)
    console.log(
      `  ${r.project}: ${r.timings}; workspace removed ${f(r.removalS)} s after the command returned`,
    );
  if (r.error) console.log(`  ${r.project}: ${r.expected ? 'listed, ' : ''}${r.error}`);
  if (r.plainRuns) console.log(`  ${r.project}: plain runs ${r.plainRuns.map(f).join(' s, ')} s`);
  if (r.attestedRuns?.length > 1)
    console.log(`  ${r.project}: attested runs ${r.attestedRuns.map(f).join(' s, ')} s`);
  if (r.pairRatios?.length > 1)
    console.log(`  ${r.project}: paired ratios ${r.pairRatios.map(f).join(', ')}`);
  if (r.plainError) console.log(`  ${r.project}: plain build failed: ${r.plainError}`);
}
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(results, null, 2));
process.exitCode = results.some((r) => (r.error && !r.expected) || r.verified === false) ? 1 : 0;
