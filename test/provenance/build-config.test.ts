import { describe, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ProvenanceError,
  buildConfigDigest,
  buildJsonSchemaDocument,
  parseBuildConfig,
  parseBuildConfigText,
} from '../../src/provenance/index.js';
import { readBuildConfig } from '../../src/provenance/node.js';
import { tempDir, writeFiles } from '../support/source/provenance-git.js';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProvenanceError);
    expect(e).toHaveCode('CONFIG_INVALID');
    return (e as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

const minimal = {
  language: 'rust',
  input: { cmd: 'cargo build --release --locked --offline' },
  output: { files: ['target/release/app'] },
};

describe('parseBuildConfig', () => {
  it('when given a TEE Compile build.json (env as a K=V list, vendor), it accepts it unchanged and normalises env to an object', () => {
    const c = parseBuildConfig({
      language: 'go',
      input: {
        cmd: 'go build -o /tmp/ .',
        vendor: 'go mod vendor',
        env: ['CGO_ENABLED=0', 'LDFLAGS=-s -w=x'],
      },
      output: { files: ['attestation-build-tool'] },
    });
    expect(c).toEqual({
      language: 'go',
      input: {
        cmd: 'go build -o /tmp/ .',
        vendor: 'go mod vendor',
        env: { CGO_ENABLED: '0', LDFLAGS: '-s -w=x' },
      },
      output: { files: ['attestation-build-tool'] },
    });
  });

  it('when given our additions, it keeps them', () => {
    const c = parseBuildConfig({
      ...minimal,
      input: { ...minimal.input, env: { RUSTFLAGS: '-C debuginfo=0' } },
      image: { name: 'tee-compile-rust', version: '1.0.0' },
      resources: { cpus: 4, memoryMiB: 8192 },
      timeout: 1800,
      allowUnpinnedDependencies: true,
    });
    expect(c.image).toEqual({ name: 'tee-compile-rust', version: '1.0.0' });
    expect(c.resources).toEqual({ cpus: 4, memoryMiB: 8192 });
    expect(c.timeout).toBe(1800);
    expect(c.allowUnpinnedDependencies).toBe(true);
    expect(c.input.env).toEqual({ RUSTFLAGS: '-C debuginfo=0' });
  });

  it('when input.vendor is empty or $schema is present, it drops them', () => {
    const c = parseBuildConfig({
      $schema: 'x',
      ...minimal,
      input: { ...minimal.input, vendor: '' },
    });
    expect(c).toEqual({ ...minimal, input: { ...minimal.input, env: {} } });
  });

  it('when input.cmd is empty, it names the field and the expected form', () => {
    expect(messageOf(() => parseBuildConfig({ ...minimal, input: { cmd: '' } }))).toBe(
      'build.json: input.cmd: expected a non-empty string (at most 65536 characters)',
    );
  });

  it('when a required field is missing, it says so', () => {
    const m = messageOf(() => parseBuildConfig({ language: 'rust', input: { cmd: 'x' } }));
    expect(m).toBe('build.json: output: missing; expected an object with "files"');
  });

  it('when the language is unknown, it lists the supported ones', () => {
    expect(messageOf(() => parseBuildConfig({ ...minimal, language: 'java' }))).toBe(
      'build.json: language: expected one of "rust", "node", "go"',
    );
  });

  it('when a key is misspelled, it refuses it and suggests the known one', () => {
    const { output, ...rest } = minimal;
    const m = messageOf(() => parseBuildConfig({ ...rest, ouput: output }));
    expect(m).toContain('build.json: ouput: unknown field; did you mean `output`?');
    expect(
      messageOf(() => parseBuildConfig({ ...minimal, input: { ...minimal.input, evn: {} } })),
    ).toBe('build.json: input.evn: unknown field; did you mean `env`?');
  });

  it('when a key is unknown and close to nothing, it refuses it without a suggestion', () => {
    expect(messageOf(() => parseBuildConfig({ ...minimal, frobnicate: 1 }))).toBe(
      'build.json: frobnicate: unknown field',
    );
  });

  it("when TEE Compile's output.sgx_signed_so is present, it refuses it saying SGX is not supported", () => {
    const m = messageOf(() =>
      parseBuildConfig({
        ...minimal,
        output: { ...minimal.output, sgx_signed_so: 'enclave.signed.so' },
      }),
    );
    expect(m).toMatch(/^build\.json: output\.sgx_signed_so: SGX outputs are not supported/);
  });

  it('when an env entry or name is invalid, it names the entry', () => {
    expect(
      messageOf(() =>
        parseBuildConfig({ ...minimal, input: { cmd: 'x', env: ['OK=1', '1BAD=2'] } }),
      ),
    ).toBe(
      'build.json: input.env.1: expected "NAME=value" where NAME matches [A-Za-z_][A-Za-z0-9_]*',
    );
    expect(
      messageOf(() => parseBuildConfig({ ...minimal, input: { cmd: 'x', env: { 'A-B': '1' } } })),
    ).toContain('build.json: input.env.A-B: invalid variable name');
    expect(
      messageOf(() => parseBuildConfig({ ...minimal, input: { cmd: 'x', env: { A: 1 } } })),
    ).toBe('build.json: input.env.A: expected a string value');
    expect(messageOf(() => parseBuildConfig({ ...minimal, input: { cmd: 'x', env: 'A=1' } }))).toBe(
      'build.json: input.env: expected a list of "NAME=value" strings (at most 256) or an object of string values',
    );
  });

  it('when an env name is set twice in the list form, it refuses the second', () => {
    expect(
      messageOf(() => parseBuildConfig({ ...minimal, input: { cmd: 'x', env: ['A=1', 'A=2'] } })),
    ).toBe('build.json: input.env.1: A is set twice');
  });

  it('when an output glob is absolute or climbs out, it refuses it', () => {
    for (const bad of ['/etc/passwd', '../x', 'a/../../b', 'a/..', 'C:/x', 'a\\b', '']) {
      const m = messageOf(() => parseBuildConfig({ ...minimal, output: { files: ['ok', bad] } }));
      expect(m).toContain('build.json: output.files.1: expected a relative path or glob');
    }
    expect(
      parseBuildConfig({ ...minimal, output: { files: ['dist/**/*.js', '..a', 'a..b/c'] } }).output
        .files,
    ).toHaveLength(3);
    expect(messageOf(() => parseBuildConfig({ ...minimal, output: { files: [] } }))).toContain(
      'output.files: expected a non-empty list',
    );
  });

  it('when numbers are out of range or not integers, it names the range', () => {
    expect(messageOf(() => parseBuildConfig({ ...minimal, resources: { cpus: 0 } }))).toBe(
      'build.json: resources.cpus: expected an integer from 1 to 128',
    );
    expect(messageOf(() => parseBuildConfig({ ...minimal, resources: { memoryMiB: 1.5 } }))).toBe(
      'build.json: resources.memoryMiB: expected an integer from 256 to 1048576',
    );
    expect(messageOf(() => parseBuildConfig({ ...minimal, timeout: -1 }))).toBe(
      'build.json: timeout: expected a whole number of seconds from 1 to 86400',
    );
    expect(
      messageOf(() => parseBuildConfig({ ...minimal, allowUnpinnedDependencies: 'yes' })),
    ).toBe('build.json: allowUnpinnedDependencies: expected true or false');
  });

  it('when several fields are wrong, it reports each on its own line', () => {
    const m = messageOf(() => parseBuildConfig({ language: 'x', input: { cmd: '' }, output: {} }));
    expect(m.split('\n')).toHaveLength(3);
  });

  it('when the text is not JSON or not an object, it says so', () => {
    expect(messageOf(() => parseBuildConfigText('{"language":'))).toMatch(
      /^build\.json: not valid JSON/,
    );
    expect(messageOf(() => parseBuildConfig([]))).toBe('build.json: expected a JSON object');
  });

  it('when two configs differ only in key order or env form, their digests are equal', () => {
    const a = parseBuildConfig({
      language: 'go',
      input: { cmd: 'x', env: ['A=1', 'B=2'] },
      output: { files: ['o'] },
    });
    const b = parseBuildConfig({
      output: { files: ['o'] },
      input: { env: { B: '2', A: '1' }, cmd: 'x' },
      language: 'go',
    });
    expect(buildConfigDigest(a)).toBe(buildConfigDigest(b));
    expect(buildConfigDigest(a)).not.toBe(buildConfigDigest({ ...b, timeout: 5 }));
  });
});

describe('readBuildConfig', () => {
  it('when the file is missing, it refuses with CONFIG_MISSING', async () => {
    await expect(readBuildConfig(join(tempDir(), 'build.json'))).rejects.toHaveCode(
      'CONFIG_MISSING',
    );
  });

  it('when the file is too large or a directory, it refuses with CONFIG_INVALID naming the file', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'build.json': ' '.repeat(1024 * 1024 + 1) });
    await expect(readBuildConfig(join(dir, 'build.json'))).rejects.toHaveCode('CONFIG_INVALID');
    const sub = join(dir, 'sub.json');
    mkdirSync(sub);
    await expect(readBuildConfig(sub)).rejects.toThrow(/^sub\.json: not a regular file$/);
    await expect(readBuildConfig(sub)).rejects.toHaveCode('CONFIG_INVALID');
  });

  it('when the file exists, it parses it and names it in messages', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'build.json': JSON.stringify(minimal), 'other.json': '{"language":"rust"}' });
    expect((await readBuildConfig(join(dir, 'build.json'))).language).toBe('rust');
    await expect(readBuildConfig(join(dir, 'other.json'))).rejects.toHaveCode('CONFIG_INVALID');
  });
});

describe('schemas/build.schema.json', () => {
  it('when compared with the schema generated from the zod schema, it is current (else run node scripts/schemas.mjs)', () => {
    const file: unknown = JSON.parse(
      readFileSync(new URL('../../schemas/build.schema.json', import.meta.url), 'utf8'),
    );
    expect(file).toEqual(buildJsonSchemaDocument());
  });

  it('when read, it refuses unknown fields and requires language, input and output', () => {
    const s = buildJsonSchemaDocument() as { additionalProperties: boolean; required: string[] };
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(['language', 'input', 'output']);
  });
});
