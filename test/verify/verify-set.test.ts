import { beforeAll, describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { writeTar } from '../../src/archive/index.js';
import { collect } from '../../src/util/bytes.js';
import type { NamedBundle, SetVerification, TrustPolicy } from '../../src/verify/index.js';
import { verifyBundles } from '../../src/verify/index.js';
import {
  BUILDERS,
  DEFAULT_COMMIT,
  VERIFIED_AT,
  defaultOutputs,
  makeBundle,
  type MakeBundleOptions,
} from '../support/bundles/bundle-factory.js';
import { simulatedPolicy, trusted } from '../support/bundles/verify-policy.js';

const te = new TextEncoder();
const [alpha, beta, gamma, delta] = BUILDERS as [
  (typeof BUILDERS)[0],
  (typeof BUILDERS)[0],
  (typeof BUILDERS)[0],
  (typeof BUILDERS)[0],
];

/** A release archive as a non-reproducible build makes it: the build time leaks into two files. */
async function releaseArchive(builtAt: string): Promise<Uint8Array> {
  const files: [string, string][] = [
    ['hello-1.0.0/bin/hello', '\0ELF binary built ' + builtAt],
    ['hello-1.0.0/README', 'hello\n'],
    ['hello-1.0.0/BUILDINFO', `version 1.0.0\nbuilt ${builtAt}\n`],
  ];
  const tar = await collect(
    writeTar(files.map(([path, c]) => ({ path, type: 'file' as const, content: te.encode(c) }))),
  );
  return new Uint8Array(gzipSync(tar));
}

async function outputs(
  builtAt = '2026-01-01T00:00:00Z',
): Promise<Record<string, Uint8Array | string>> {
  return {
    ...defaultOutputs(),
    'dist/hello-1.0.0.tar.gz': await releaseArchive(builtAt),
    'dist/NOTES.txt': `release notes\nbuilt ${builtAt}\nend\n`,
  };
}

async function named(name: string, opts: MakeBundleOptions): Promise<NamedBundle> {
  return { name, source: (await makeBundle(opts)).bytes };
}

let policy: TrustPolicy;
let same: Record<string, Uint8Array | string>;
let a: NamedBundle;
let b: NamedBundle;
let c: NamedBundle;

beforeAll(async () => {
  policy = await simulatedPolicy({ builders: trusted(), minBuilders: 2 });
  same = await outputs();
  [a, b, c] = await Promise.all([
    named('alpha.tar.gz', { builder: alpha, outputs: same }),
    named('beta.tar.gz', { builder: beta, outputs: same }),
    named('gamma.tar.gz', { builder: gamma, outputs: same }),
  ]);
});

function refused(s: SetVerification, code: string): void {
  expect(s.ok).toBe(false);
  expect(s.code).toBe(code);
}

describe('verifyBundles (k of n)', () => {
  it('when three trusted builders produce identical bytes, the set passes and names them all', async () => {
    const s = await verifyBundles([a, b, c], policy, { now: VERIFIED_AT });
    expect(s.ok).toBe(true);
    expect(s.code).toBeUndefined();
    expect(s.majority).toBe(true);
    expect(s.agreeing).toEqual(['alpha', 'beta', 'gamma']);
    expect(s.dissenting).toEqual([]);
    expect(s.differences).toEqual([]);
    expect(s.groups).toHaveLength(1);
    expect(s.groups[0]!.bundles).toEqual(['alpha.tar.gz', 'beta.tar.gz', 'gamma.tar.gz']);
    expect(s.groups[0]!.subjects.map((x) => x.name)).toContain('dist/hello-1.0.0.tar.gz');
    expect(s.simulated).toBe(true);
    expect(s.bundles.every((x) => x.result.ok)).toBe(true);
  });

  it('when one builder produced different bytes (not reproducible), the majority wins and the report says which files differ and how', async () => {
    const odd = await named('gamma.tar.gz', {
      builder: gamma,
      outputs: await outputs('2026-01-01T00:07:13Z'),
    });
    const s = await verifyBundles([a, odd, b], policy, { now: VERIFIED_AT });
    expect(s.ok).toBe(true);
    expect(s.agreeing).toEqual(['alpha', 'beta']);
    expect(s.dissenting).toEqual(['gamma']);
    expect(s.groups.map((g) => g.builders)).toEqual([['alpha', 'beta'], ['gamma']]);
    expect(s.differences).toHaveLength(1);
    const d = s.differences[0]!;
    expect(d.bundle).toBe('gamma.tar.gz');
    expect(d.builder).toBe('gamma');
    expect(d.files.map((f) => f.path)).toEqual(['dist/NOTES.txt', 'dist/hello-1.0.0.tar.gz']);
    const [notes, archive] = d.files;
    expect(notes!.majority!.size).toBe(notes!.dissent!.size);
    expect(notes!.majority!.sha256).not.toBe(notes!.dissent!.sha256);
    expect(notes!.summary).toBe(
      'text differs at line 2:\n  - built 2026-01-01T00:00:00Z\n  + built 2026-01-01T00:07:13Z',
    );
    expect(archive!.summary).toContain(
      'tar.gz archive: 2 members differ, 0 only in the majority, 0 only here',
    );
    expect(archive!.summary).toContain('hello-1.0.0/bin/hello');
    expect(archive!.summary).toContain('hello-1.0.0/BUILDINFO');
    expect(archive!.summary).toContain('+ built 2026-01-01T00:07:13Z');
    expect(archive!.diffoscope).toBeUndefined();
  });

  it('when a dissenting builder has files the majority lacks (and lacks some), they are listed with one side null', async () => {
    const o = await outputs();
    const { 'dist/NOTES.txt': _notes, ...rest } = o;
    const odd = await named('gamma.tar.gz', {
      builder: gamma,
      outputs: { ...rest, 'dist/debug.map': 'map' },
    });
    const s = await verifyBundles([a, b, odd], policy, { now: VERIFIED_AT });
    const files = s.differences[0]!.files;
    expect(files.map((f) => [f.path, f.majority === null, f.dissent === null])).toEqual([
      ['dist/NOTES.txt', false, true],
      ['dist/debug.map', true, false],
    ]);
  });

  it('when a deep comparer is given (diffoscope), its report is attached to each differing file', async () => {
    const odd = await named('gamma.tar.gz', { builder: gamma, outputs: await outputs('later') });
    const s = await verifyBundles([a, b, odd], policy, {
      now: VERIFIED_AT,
      compare: (path, x, y) => Promise.resolve(`${path}: ${x.length} vs ${y.length}`),
    });
    expect(s.differences[0]!.files.map((f) => f.diffoscope)).toEqual([
      expect.stringMatching(/^dist\/NOTES\.txt: /),
      expect.stringMatching(/^dist\/hello-1\.0\.0\.tar\.gz: /),
    ]);
  });

  it('when the same builder submits twice, it counts once (QUORUM_NOT_MET)', async () => {
    const again = await named('alpha-again.tar.gz', { builder: alpha, outputs: same });
    const s = await verifyBundles([a, again], policy, { now: VERIFIED_AT });
    refused(s, 'QUORUM_NOT_MET');
    expect(s.groups[0]!.builders).toEqual(['alpha']);
    expect(s.groups[0]!.bundles).toEqual(['alpha.tar.gz', 'alpha-again.tar.gz']);
    expect(s.message).toContain('1 distinct trusted builder agree, 2 required');
  });

  it('when one of the bundles comes from an untrusted builder, it does not count', async () => {
    const strict = { ...policy, builders: trusted([alpha, beta, gamma]) };
    const outsider = await named('delta.tar.gz', { builder: delta, outputs: same });
    const s = await verifyBundles([a, outsider], strict, { now: VERIFIED_AT });
    refused(s, 'QUORUM_NOT_MET');
    expect(s.bundles[1]!.result).toBeRefusedWith('BUILDER_UNTRUSTED');
    expect(s.agreeing).toEqual(['alpha']);
    expect(s.message).toContain('1 of 2 bundles refused');
  });

  it('when a bundle is from another commit, the set is refused with SOURCE_DIVERGENT naming both', async () => {
    const other = await named('beta-other.tar.gz', {
      builder: beta,
      outputs: same,
      commit: 'e'.repeat(40),
    });
    const s = await verifyBundles([a, other, c], policy, { now: VERIFIED_AT });
    refused(s, 'SOURCE_DIVERGENT');
    expect(s.message).toContain(DEFAULT_COMMIT);
    expect(s.message).toContain('e'.repeat(40));
    expect(s.message).toContain('beta-other.tar.gz');
  });

  it('when the policy names the commit, a bundle of another commit is refused alone and the others still agree', async () => {
    const other = await named('beta-other.tar.gz', {
      builder: beta,
      outputs: same,
      commit: 'e'.repeat(40),
    });
    const s = await verifyBundles(
      [a, other, c],
      { ...policy, source: { commit: DEFAULT_COMMIT } },
      { now: VERIFIED_AT },
    );
    expect(s.ok).toBe(true);
    expect(s.bundles[1]!.result).toBeRefusedWith('COMMIT_MISMATCH');
    expect(s.agreeing).toEqual(['alpha', 'gamma']);
  });

  it('when two groups of builders reach k with equal support, it refuses with OUTPUTS_CONFLICT', async () => {
    const other = await outputs('other');
    const d1 = await named('gamma.tar.gz', { builder: gamma, outputs: other });
    const d2 = await named('delta.tar.gz', { builder: delta, outputs: other });
    const s = await verifyBundles([a, b, d1, d2], policy, { now: VERIFIED_AT });
    refused(s, 'OUTPUTS_CONFLICT');
    expect(s.message).toMatch(/^no majority: 2 builders \(alpha, beta\) and 2 builders/);
    expect(s.majority).toBe(false);
    expect(s.agreeing).toEqual([]);
    expect(s.dissenting).toEqual(['alpha', 'beta', 'gamma', 'delta']);
    expect(s.differences.map((d) => d.bundle)).toEqual(['gamma.tar.gz', 'delta.tar.gz']);
  });

  it('when two builders tie below k with different outputs, there is no majority: nobody agrees and the groups are compared as groups', async () => {
    const odd = await named('beta.tar.gz', { builder: beta, outputs: await outputs('odd') });
    const sides: (readonly [string, string] | undefined)[] = [];
    const s = await verifyBundles([a, odd], policy, {
      now: VERIFIED_AT,
      compare: (_path, _x, _y, names) => {
        sides.push(names);
        return Promise.resolve(null);
      },
    });
    refused(s, 'QUORUM_NOT_MET');
    expect(s.majority).toBe(false);
    expect(s.agreeing).toEqual([]);
    expect(s.dissenting).toEqual(['alpha', 'beta']);
    expect(s.groups.map((g) => g.builders)).toEqual([['alpha'], ['beta']]);
    const [notes] = s.differences[0]!.files;
    expect(notes!.path).toBe('dist/NOTES.txt');
    expect(notes!.summary).toBe(
      'text differs at line 2:\n  - built 2026-01-01T00:00:00Z\n  + built odd',
    );
    const archive = s.differences[0]!.files[1]!;
    expect(archive.summary).toContain('0 only in group 1, 0 only here');
    expect(s.differences[0]!.files.map((f) => f.summary).join('\n')).not.toContain('majority');
    expect(sides).toEqual([
      ['group-1', 'group-2'],
      ['group-1', 'group-2'],
    ]);
  });

  it('when the tied groups differ only in how many bundles they hold, one builder twice is still one: no majority', async () => {
    const again = await named('alpha-again.tar.gz', { builder: alpha, outputs: same });
    const odd = await named('beta.tar.gz', { builder: beta, outputs: await outputs('odd') });
    const s = await verifyBundles([odd, a, again], policy, { now: VERIFIED_AT });
    refused(s, 'QUORUM_NOT_MET');
    expect(s.message).toMatch(/^no majority: /);
    expect(s.agreeing).toEqual([]);
    expect(s.dissenting.sort()).toEqual(['alpha', 'beta']);
  });

  it('when one group has more builders than the rest but fewer than k, it is the majority, not enough', async () => {
    const strict = { ...policy, minBuilders: 3 };
    const odd = await named('gamma.tar.gz', { builder: gamma, outputs: await outputs('odd') });
    const sides: (readonly [string, string] | undefined)[] = [];
    const s = await verifyBundles([odd, a, b], strict, {
      now: VERIFIED_AT,
      compare: (_path, _x, _y, names) => {
        sides.push(names);
        return Promise.resolve(null);
      },
    });
    refused(s, 'QUORUM_NOT_MET');
    expect(s.majority).toBe(true);
    expect(s.agreeing).toEqual(['alpha', 'beta']);
    expect(s.dissenting).toEqual(['gamma']);
    expect(s.differences[0]!.files[1]!.summary).toContain('0 only in the majority, 0 only here');
    expect(sides[0]).toEqual(['majority', 'dissent']);
  });

  it('when simulated bundles are not allowed, none counts', async () => {
    const s = await verifyBundles(
      [a, b],
      { ...policy, allowSimulated: false },
      { now: VERIFIED_AT },
    );
    refused(s, 'QUORUM_NOT_MET');
    expect(s.bundles.map((x) => x.result)).toEqual([
      expect.objectContaining({ code: 'SIMULATED_NOT_ALLOWED' }),
      expect.objectContaining({ code: 'SIMULATED_NOT_ALLOWED' }),
    ]);
    expect(s.simulated).toBe(false);
  });

  it('when a bundle is tampered with, it is listed as refused and does not count', async () => {
    const broken: NamedBundle = { name: 'broken.tar.gz', source: new Uint8Array([1, 2, 3]) };
    const s = await verifyBundles([a, broken, b], policy, { now: VERIFIED_AT });
    expect(s.ok).toBe(true);
    expect(s.bundles[1]!.result).toBeRefusedWith('BUNDLE_MALFORMED');
    expect(s.agreeing).toEqual(['alpha', 'beta']);
  });

  it('when there is no bundle, it refuses with NO_BUNDLES', async () => {
    refused(await verifyBundles([], policy, { now: VERIFIED_AT }), 'NO_BUNDLES');
  });

  it('when no builder list is given and k > 1, any PCR3 counts and a warning says so', async () => {
    const open = { ...policy, builders: undefined };
    const s = await verifyBundles([a, b], open, { now: VERIFIED_AT });
    expect(s.ok).toBe(true);
    expect(s.agreeing.every((x) => /^[0-9a-f]{96}$/.test(x))).toBe(true);
    expect(s.warnings[0]).toMatch(/no trusted builders/);
  });
});
