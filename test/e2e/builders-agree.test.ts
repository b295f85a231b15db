/**
 * Builders in agreement, end to end: real builds of one commit by several simulated builders
 * (`tee-compile build --local --simulated-role <distinct roles>`, so each bundle carries the PCR3
 * a Nitro host with that instance role would report), verified as a set with
 * `tee-compile verify --policy` (k of n): an agreeing set, the same builder twice, an untrusted
 * builder, a bundle of another commit, and a build that is not reproducible, whose differing file
 * is named.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestRepo } from '../support/source/build-repo.js';
import { exampleRepo, git } from '../support/source/build-repo.js';
import { cliBuild } from '../support/cli/build-cli.js';
import { runCli } from '../support/cli/cli.js';

const ROLE = (name: string): string => `arn:aws:iam::111122223333:role/builder-${name}`;
const BINARY = 'examples/rust-hello/target/release/rust-hello';
const STAMP = 'examples/rust-hello/target/build-id.txt';

let repo: TestRepo;
let dir: string;
let policyFile: string;
/** Bundles by label: `<builder>` for the first commit, `<builder>-2` for the second. */
const bundles = new Map<string, string>();
let firstCommit: string;

async function build(label: string, role: string): Promise<void> {
  const out = join(dir, `${label}.bundle.tar.gz`);
  const r = await cliBuild(
    [
      repo.dir,
      '--local',
      '--simulated-role',
      role,
      '--nonce',
      'cd'.repeat(32),
      '--out',
      out,
      '--json',
    ],
    repo.dir,
    join(dir, 'cache'),
  );
  if (r.code !== 0) throw new Error(`build ${label} failed: ${r.stderr}`);
  bundles.set(label, out);
}

interface SetResult {
  ok: boolean;
  code?: string;
  agreeing: string[];
  dissenting: string[];
  groups: { builders: string[]; subjects: { name: string; sha256: string }[] }[];
  differences: { bundle: string; builder: string; files: { path: string }[] }[];
}

async function verifySet(
  labels: string[],
  minBuilders: number,
): Promise<SetResult & { exit: number }> {
  const r = await runCli([
    'verify',
    ...labels.map((l) => bundles.get(l)!),
    '--policy',
    policyFile,
    '--min-builders',
    String(minBuilders),
    '--allow-simulated',
    '--json',
  ]);
  return { ...(JSON.parse(r.stdout) as SetResult), exit: r.code };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tc-builders-'));
  repo = await exampleRepo('rust-hello');
  firstCommit = repo.commit;
  policyFile = join(dir, 'policy.json');
  await writeFile(
    policyFile,
    JSON.stringify({
      builders: ['a', 'b', 'c'].map((n) => ({ name: `org-${n}`, iamRole: ROLE(n) })),
      minBuilders: 1,
    }),
  );
  // The first commit builds reproducibly: every builder gets the same bytes.
  for (const n of ['a', 'b', 'c']) await build(n, ROLE(n));
  await build('a-again', ROLE('a'));
  await build('d', ROLE('d')); // a builder the policy does not know
  // The second commit adds an output that records when it was built: not reproducible.
  const config = JSON.parse(await readFile(join(repo.dir, 'build.json'), 'utf8')) as {
    input: { cmd: string };
    output: { files: string[] };
  };
  config.input.cmd += ' && date +%s%N > target/build-id.txt';
  config.output.files.push('target/build-id.txt');
  await writeFile(join(repo.dir, 'build.json'), JSON.stringify(config, null, 2));
  git(repo.root, ['commit', '-q', '-am', 'record the build time']);
  for (const n of ['a', 'b']) await build(`${n}-2`, ROLE(n));
}, 600_000);

afterAll(async () => {
  await repo.remove();
  await rm(dir, { recursive: true, force: true });
});

describe('several simulated builders, verified k of n', () => {
  it('when three trusted builders produced the same bytes, three of three agree and each is named', async () => {
    const r = await verifySet(['a', 'b', 'c'], 3);
    expect(r.exit).toBe(0);
    expect(r.ok).toBe(true);
    expect(r.agreeing.sort()).toEqual(['org-a', 'org-b', 'org-c']);
    expect(r.dissenting).toEqual([]);
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0]!.subjects.map((s) => s.name)).toEqual([BINARY]);
  });

  it('when one builder built twice, it counts once and two of two is not met', async () => {
    const r = await verifySet(['a', 'a-again'], 2);
    expect(r.exit).toBe(1);
    expect(r.code).toBe('QUORUM_NOT_MET');
    expect(r.agreeing).toEqual(['org-a']);
  });

  it('when a builder is not in the policy, its bundle does not count', async () => {
    const r = await verifySet(['a', 'd'], 2);
    expect(r.exit).toBe(1);
    expect(r.code).toBe('QUORUM_NOT_MET');
    expect(r.agreeing).toEqual(['org-a']);
    // …and with the trusted ones it takes nothing away.
    expect((await verifySet(['a', 'b', 'd'], 2)).ok).toBe(true);
  });

  it('when a bundle was built from another commit, the set is refused as divergent', async () => {
    const r = await verifySet(['a', 'b-2'], 2);
    expect(r.exit).toBe(1);
    expect(r.code).toBe('SOURCE_DIVERGENT');
    expect(git(repo.root, ['rev-parse', 'HEAD'])).not.toBe(firstCommit);
  });

  it('when the build is not reproducible, the builders disagree and the differing file is named, not the identical one', async () => {
    const r = await verifySet(['a-2', 'b-2'], 2);
    expect(r.exit).toBe(1);
    expect(r.code).toBe('QUORUM_NOT_MET');
    expect(r.groups).toHaveLength(2);
    const files = r.differences.flatMap((d) => d.files.map((f) => f.path));
    expect(files).toContain(STAMP);
    expect(files).not.toContain(BINARY);
  });
});
