import { beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli/cli.js';
import {
  BUILDERS,
  DEFAULT_COMMIT,
  DEFAULT_NONCE,
  makeBundle,
  rebundle,
  writeBundleBytes,
} from '../support/bundles/bundle-factory.js';
import { tempDirSync } from '../support/temp.js';

const [alpha, beta, gamma] = BUILDERS as [
  (typeof BUILDERS)[0],
  (typeof BUILDERS)[0],
  (typeof BUILDERS)[0],
];

let dir: string;
let good: string;
let second: string;
let odd: string;
let tampered: string;

beforeAll(async () => {
  dir = tempDirSync('bundles-');
  const a = await makeBundle({ builder: alpha });
  good = await writeBundleBytes(dir, 'alpha.bundle.tar.gz', a.bytes);
  second = await writeBundleBytes(
    dir,
    'beta.bundle.tar.gz',
    (await makeBundle({ builder: beta })).bytes,
  );
  odd = await writeBundleBytes(
    dir,
    'gamma.bundle.tar.gz',
    (
      await makeBundle({
        builder: gamma,
        outputs: { 'target/release/VERSION': 'hello 1.0.1\n', 'target/release/hello': 'x' },
      })
    ).bytes,
  );
  tampered = await writeBundleBytes(
    dir,
    'tampered.bundle.tar.gz',
    await rebundle(a.contents, (c) =>
      c.artifacts.set('target/release/hello', new TextEncoder().encode('evil')),
    ),
  );
});

function policyFile(p: unknown): string {
  const f = join(dir, `policy-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(p));
  return f;
}

interface JsonReport {
  ok: boolean;
  code: string | null;
  message: string;
  simulated: boolean;
  warning?: string;
  subjects: { name: string; sha256: string }[];
  source: { repository: string | null; commit: string | null; tree: string } | null;
  image: { name: string; version: string; pcr0: string } | null;
  builder: { pcr3: string; name: string | null } | null;
  groups: { builders: string[]; subjects: unknown[]; bundles: string[] }[];
  majority: boolean;
  agreeing: string[];
  dissenting: string[];
  differences: {
    bundle: string;
    builder: string;
    files: {
      path: string;
      majority: { sha256: string; size: number } | null;
      dissent: { sha256: string; size: number } | null;
      summary?: string;
      diffoscope?: string;
    }[];
  }[];
  bundles: { bundle: string; ok: boolean; code: string | null }[];
  warnings: string[];
}

/** The keys every `verify --json` report has, for one bundle or several, verified or refused. */
const REPORT_KEYS = [
  'agreeing',
  'builder',
  'bundles',
  'code',
  'debug',
  'differences',
  'dissenting',
  'groups',
  'image',
  'majority',
  'message',
  'nonce',
  'ok',
  'origin',
  'signature',
  'simulated',
  'source',
  'subjects',
  'timestamp',
  'warnings',
];

function keysOf(j: JsonReport): string[] {
  return Object.keys(j)
    .filter((k) => !['path', 'reason', 'warning'].includes(k))
    .sort();
}

/** An environment whose PATH has a `diffoscope` that names the two files it was given. */
function fakeDiffoscope(): NodeJS.ProcessEnv {
  const bin = tempDirSync('fake-diffoscope-');
  writeFileSync(join(bin, 'diffoscope'), '#!/bin/sh\necho "compared $4 with $5"; exit 1\n');
  chmodSync(join(bin, 'diffoscope'), 0o755);
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
}

describe('tee-compile verify', () => {
  it('when a simulated bundle is verified with --allow-simulated, it exits 0 and every line says SIMULATED', async () => {
    const r = await runCli(['verify', good, '--allow-simulated']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.every((l) => l.startsWith('SIMULATED '))).toBe(true);
    expect(r.stdout).toContain('target/release/hello');
    expect(r.stdout).toContain(DEFAULT_COMMIT);
    expect(r.stdout).toContain('verdict: VERIFIED');
  });

  it('when a simulated bundle is verified without --allow-simulated, it exits 1 with SIMULATED_NOT_ALLOWED', async () => {
    const r = await runCli(['verify', good]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('SIMULATED_NOT_ALLOWED');
    expect(r.stdout).toContain('verdict: REFUSED');
  });

  it('when a simulated bundle is refused with --json, the one line says SIMULATED_NOT_ALLOWED and carries the SIMULATED warning', async () => {
    const r = await runCli(['verify', good, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(j.code).toBe('SIMULATED_NOT_ALLOWED');
    expect(j.simulated).toBe(true);
    expect(j.warning).toMatch(/^SIMULATED: /);
  });

  it('when --json is given, it prints one object on one line with the verified facts, "simulated":true and the SIMULATED warning', async () => {
    const r = await runCli([
      'verify',
      good,
      '--allow-simulated',
      '--json',
      '--nonce',
      DEFAULT_NONCE,
      '--commit',
      DEFAULT_COMMIT,
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    expect(lines[0]).toContain('"simulated":true');
    expect(lines[0]).toContain('"warning":"SIMULATED: ');
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(j.ok).toBe(true);
    expect(j.code).toBeNull();
    expect(j.simulated).toBe(true);
    expect(j.warning).toMatch(/^SIMULATED: /);
    expect(j.subjects.map((s) => s.name)).toEqual([
      'target/release/VERSION',
      'target/release/hello',
    ]);
    expect(j.source).toMatchObject({
      repository: 'https://github.com/example/hello',
      commit: DEFAULT_COMMIT,
    });
    expect(j.image).toMatchObject({ name: 'rust' });
    expect(j.builder!.pcr3).toMatch(/^[0-9a-f]{96}$/);
    // One bundle is a set of one: the same set fields as several bundles.
    expect(keysOf(j)).toEqual(REPORT_KEYS);
    expect(j.groups).toEqual([
      { builders: [j.builder!.pcr3], subjects: j.subjects, bundles: [good] },
    ]);
    expect(j.majority).toBe(true);
    expect(j.agreeing).toEqual([j.builder!.pcr3]);
    expect(j.dissenting).toEqual([]);
    expect(j.differences).toEqual([]);
    expect(j.bundles).toEqual([expect.objectContaining({ bundle: good, ok: true, code: null })]);
    expect(j.warnings).toEqual([]);
  });

  it('when a bundle name holds U+2028 or U+2029, --json escapes them so that the report stays one line', async () => {
    const name = await writeBundleBytes(
      dir,
      'line\u2028sep\u2029.bundle.tar.gz',
      (await makeBundle({ builder: alpha })).bytes,
    );
    const r = await runCli(['verify', name, '--allow-simulated', '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u2028\u2029]/);
    expect(r.stdout).toContain('line\\u2028sep\\u2029');
    expect((JSON.parse(r.stdout) as JsonReport).bundles[0]!.bundle).toBe(name);
  });

  it('when the bundle is tampered with, it exits 1 and --json carries the code', async () => {
    const r = await runCli(['verify', tampered, '--allow-simulated', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(j.ok).toBe(false);
    expect(j.code).toBe('SUBJECT_DIGEST_MISMATCH');
    expect(j.subjects).toEqual([]);
    expect(keysOf(j)).toEqual(REPORT_KEYS);
    expect(j.groups).toEqual([]);
    expect(j.majority).toBe(false);
    expect(j.agreeing).toEqual([]);
    expect(j.differences).toEqual([]);
    expect(j.bundles).toEqual([
      expect.objectContaining({ bundle: tampered, ok: false, code: 'SUBJECT_DIGEST_MISMATCH' }),
    ]);
  });

  it('when the commit differs from --commit, it exits 1 with COMMIT_MISMATCH', async () => {
    const r = await runCli(['verify', good, '--allow-simulated', '--commit', 'a'.repeat(40)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('COMMIT_MISMATCH');
  });

  it('when a policy lists the builders and asks for 2, two agreeing bundles pass and one alone does not', async () => {
    const p = policyFile({
      builders: [
        { name: 'alpha', iamRole: alpha.iamRole },
        { name: 'beta', iamRole: beta.iamRole },
        { name: 'gamma', iamRole: gamma.iamRole },
      ],
      minBuilders: 2,
      allowSimulated: true,
    });
    const two = await runCli(['verify', good, second, '--policy', p, '--json']);
    expect(two.code).toBe(0);
    const j = JSON.parse(two.stdout) as JsonReport;
    expect(keysOf(j)).toEqual(REPORT_KEYS);
    expect(j.code).toBeNull();
    expect(j.agreeing).toEqual(['alpha', 'beta']);
    expect(j.groups).toHaveLength(1);
    expect(j.builder).toBeNull();
    const one = await runCli(['verify', good, '--policy', p, '--json']);
    expect(one.code).toBe(1);
    const oneJ = JSON.parse(one.stdout) as JsonReport;
    expect(keysOf(oneJ)).toEqual(REPORT_KEYS);
    expect(oneJ.code).toBe('QUORUM_NOT_MET');
  });

  it('when two trusted builders disagree and k = 2, --json reports no majority and compares the two groups', async () => {
    const p = policyFile({
      builders: [
        { name: 'alpha', iamRole: alpha.iamRole },
        { name: 'gamma', iamRole: gamma.iamRole },
      ],
      minBuilders: 2,
      allowSimulated: true,
    });
    const r = await runCli(['verify', good, odd, '--policy', p, '--json'], {
      env: fakeDiffoscope(),
    });
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(keysOf(j)).toEqual(REPORT_KEYS);
    expect(j.code).toBe('QUORUM_NOT_MET');
    expect(j.message).toMatch(/^no majority: 2 groups of 1 distinct trusted builder each/);
    expect(j.majority).toBe(false);
    expect(j.agreeing).toEqual([]);
    expect(j.dissenting).toEqual(['alpha', 'gamma']);
    expect(j.groups.map((g) => g.builders)).toEqual([['alpha'], ['gamma']]);
    const version = j.differences[0]!.files[0]!;
    expect(version.path).toBe('target/release/VERSION');
    expect(version.summary).toContain('in group 1');
    expect(version.diffoscope).toBe(
      'compared group-1/target/release/VERSION with group-2/target/release/VERSION\n',
    );
  });

  it('when two trusted builders disagree and k = 2, the human report says no majority on SIMULATED lines and calls neither the majority', async () => {
    const r = await runCli(['verify', good, odd, '--min-builders', '2', '--allow-simulated']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('SIMULATED '))).toBe(true);
    expect(r.stdout).toContain(
      'SIMULATED agreeing: none (no majority: the largest groups have as many builders)',
    );
    expect(r.stdout).toContain('SIMULATED differs from group 1: PCR3 ');
    expect(r.stdout).toMatch(
      /SIMULATED {5}file target\/release\/VERSION: group 1 [0-9a-f]{16}… \(\d+ bytes\), here/,
    );
    expect(r.stdout).not.toMatch(/the majority|majority [0-9a-f]/);
    expect(r.stdout).toContain('verdict: REFUSED (QUORUM_NOT_MET): no majority: ');
  });

  it('when several bundles disagree, --json names the agreeing and dissenting builders and the differing files', async () => {
    const p = policyFile({
      builders: [
        { name: 'alpha', iamRole: alpha.iamRole },
        { name: 'beta', iamRole: beta.iamRole },
        { name: 'gamma', iamRole: gamma.iamRole },
      ],
      minBuilders: 2,
    });
    const r = await runCli([
      'verify',
      good,
      odd,
      second,
      '--policy',
      p,
      '--allow-simulated',
      '--json',
    ]);
    expect(r.code).toBe(0);
    // One line, carrying the SIMULATED warning, even with multi-line difference summaries.
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('"simulated":true');
    expect(r.stdout).toContain('"warning":"SIMULATED: ');
    const j = JSON.parse(r.stdout) as JsonReport;
    expect(keysOf(j)).toEqual(REPORT_KEYS);
    expect(j.ok).toBe(true);
    expect(j.code).toBeNull();
    expect(j.majority).toBe(true);
    expect(j.agreeing).toEqual(['alpha', 'beta']);
    expect(j.dissenting).toEqual(['gamma']);
    expect(j.groups.map((g) => g.builders)).toEqual([['alpha', 'beta'], ['gamma']]);
    expect(j.differences[0]!.files.map((f) => f.path)).toEqual([
      'target/release/VERSION',
      'target/release/hello',
    ]);
    const [version] = j.differences[0]!.files;
    expect(version!.majority!.size).toBe('hello 1.0.0\ncommit 3b18e51\n'.length);
    expect(version!.dissent).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), size: 12 });
    expect(j.simulated).toBe(true);
  });

  it('when several bundles disagree, the human report shows the groups, what differs, and SIMULATED on every line', async () => {
    const r = await runCli([
      'verify',
      good,
      odd,
      second,
      '--min-builders',
      '2',
      '--allow-simulated',
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('SIMULATED '))).toBe(true);
    expect(r.stdout).toContain('group 1:');
    expect(r.stdout).toContain('differs from the majority:');
    expect(r.stdout).toContain('text differs at lines from 1 (2 in the majority, 1 here):');
    expect(r.stdout).toContain('+ hello 1.0.1');
    expect(r.stdout).toContain('warning: the policy lists no trusted builders');
  });

  it('when the policy file is invalid, it exits 2 naming the field', async () => {
    const p = policyFile({
      builders: [
        { name: 'a', iamRole: alpha.iamRole },
        { name: 'b', iamRole: 'oops' },
      ],
    });
    const r = await runCli(['verify', good, '--policy', p]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'builders.1.iamRole: expected an IAM role ARN like arn:aws:iam::123456789012:role/Name',
    );
  });

  it('when the policy file does not exist, it exits 2', async () => {
    const r = await runCli(['verify', good, '--policy', join(dir, 'missing.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read the policy file');
  });

  it.each([
    ['--pcr', ['--pcr', '4=zz']],
    ['--commit', ['--commit', 'abc1234']],
    ['--nonce', ['--nonce', 'xyz']],
    ['--repo', ['--repo', 'nope']],
    ['--min-builders', ['--min-builders', '0']],
  ])('when %s has a bad value, it exits 2 naming the flag', async (flag, args) => {
    const r = await runCli(['verify', good, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${flag}: `);
  });

  it('when a bundle file does not exist, it exits 2', async () => {
    const r = await runCli(['verify', join(dir, 'nope.tar.gz')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read');
  });

  it('when no bundle or an unknown flag is given, it exits 2 with usage', async () => {
    expect((await runCli(['verify'])).code).toBe(2);
    const r = await runCli(['verify', good, '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Run 'tee-compile verify --help'");
  });

  it('when asked for help, it prints the usage and exits 0', async () => {
    const r = await runCli(['verify', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: tee-compile verify <bundle.tar.gz>...');
  });
});
