// The worker's dependency check on a corpus project's real dependency set, before and after it
// became single-use: the set (the tar the client sends) is unpacked as the worker unpacks it,
// then checked with `consume: false` (each file copied into the verified environment while it is
// hashed) and with `consume: true` (hashed in one read, then moved), alternating, in the same
// run. Prints the unpacking time, each mode's median and the ratio after/before.
//
//   npm run build && node bench/real/depset-check.mjs [<project, default uuid>] [--rounds 3]
//                                                      [--before-lib <dir>]
//
// --before-lib: the compiled lib/ of an earlier version, whose check (copying) is the "before";
// by default both come from this lib/ and differ only in `consume`.
// The client's dependency-set cache is filled first when it is cold (the network is not
// measured); the project's snapshot comes from the corpus as for run.mjs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { here, materialize, projects, root, snapshot } from './corpus.mjs';

const { values: args, positionals } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, 'before-lib': { type: 'string' } },
  allowPositionals: true,
});
const name = positionals[0] ?? 'uuid';
const rounds = Number(args.rounds);
const p = projects.find((x) => x.name === name);
if (p === undefined) throw new Error(`${name} is not in projects.json`);

const lib = (m) => import(join(root, 'lib', m));
const { prepareInputs, readProjectConfig } = await lib('client/inputs.js');
const { extractTar, fileChunks } = await lib('archive/node.js');
const { checkDependencySet, readLockedDependencies } = await lib('provenance/node.js');
const before =
  args['before-lib'] === undefined
    ? checkDependencySet
    : (await import(join(args['before-lib'], 'provenance/node.js'))).checkDependencySet;
const { DEPS_ARCHIVE_LIMITS } = await lib('worker/build.js');

const work = mkdtempSync(join(tmpdir(), `bench-depset-${name}-`));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const repo = join(work, 'repo');
  materialize(p, snapshot(p), repo);
  const buildJson = join(here, 'projects', name, 'build.json');
  const language = JSON.parse(readFileSync(buildJson, 'utf8')).language;
  const prep = await prepareInputs({
    dir: repo,
    project: await readProjectConfig(repo, buildJson),
  });
  if (prep.depsArchive === null) throw new Error(`${name} has no dependency set`);
  const deps = await readLockedDependencies(repo, language, { workdir: '.' });
  const times = { unpack: [], copy: [], move: [] };
  for (let r = 0; r < rounds; r++) {
    // Alternating which goes first, so that neither always finds the page cache warmer.
    for (const consume of r % 2 === 0 ? [false, true] : [true, false]) {
      const set = join(work, `set-${r}-${consume}`);
      const out = join(work, `env-${r}-${consume}`);
      let t0 = performance.now();
      await extractTar(fileChunks(prep.depsArchive.file), set, {
        symlinks: 'refuse',
        limits: DEPS_ARCHIVE_LIMITS,
      });
      times.unpack.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      const check = consume ? checkDependencySet : before;
      const done = await check(set, deps, { language, outDir: out, consume });
      times[consume ? 'move' : 'copy'].push((performance.now() - t0) / 1000);
      if (done.verified === 0) throw new Error('nothing was verified');
      rmSync(set, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  }
  await prep.cleanup();
  const f = (n) => n.toFixed(2);
  console.log(
    `${name}: ${deps.length} locked dependencies, set ${(prep.depsArchive.size / 1e6).toFixed(1)} MB; load ${loadavg().map(f).join(' ')}`,
  );
  console.log(`unpack (as the worker receives it)  median ${f(median(times.unpack))} s`);
  console.log(`check, copying (before)             median ${f(median(times.copy))} s`);
  console.log(`check, moving (after)               median ${f(median(times.move))} s`);
  console.log(
    `runs: ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map(f)])))}`,
  );
  console.log(`ratio after/before                  ${f(median(times.move) / median(times.copy))}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
