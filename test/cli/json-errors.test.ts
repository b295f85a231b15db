/**
 * With --json, an error that ends a command with exit 2 (usage, I/O, an invalid policy) is one
 * JSON object on stdout, `{"ok":false,"code":…,"message":…}`, as well as a line of text on stderr.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../support/cli/cli.js';
import { makeBundle, writeBundleBytes } from '../support/bundles/bundle-factory.js';
import { tempDirSync } from '../support/temp.js';

let dir: string;
let bundle: string;

beforeAll(async () => {
  dir = tempDirSync('bundles-');
  bundle = await writeBundleBytes(dir, 'one.bundle.tar.gz', (await makeBundle()).bytes);
});

interface JsonError {
  ok: boolean;
  code: string;
  message: string;
  path?: string;
}

/** The one JSON line on stdout of an exit-2 run. */
async function jsonError(args: string[]): Promise<JsonError> {
  const r = await runCli(args);
  expect(r.code).toBe(2);
  const lines = r.stdout.split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toBe('');
  const j = JSON.parse(lines[0]!) as JsonError;
  expect(Object.keys(j).filter((k) => k !== 'path')).toEqual(['ok', 'code', 'message']);
  expect(j.ok).toBe(false);
  expect(j.message.length).toBeGreaterThan(0);
  expect(r.stderr.length).toBeGreaterThan(0);
  return j;
}

describe('--json errors (exit 2)', () => {
  it('when verify is given an unknown flag, stdout is {"ok":false,"code":"USAGE"}', async () => {
    expect((await jsonError(['verify', bundle, '--frobnicate', '--json'])).code).toBe('USAGE');
  });

  it('when verify has no bundle or a bad flag value, the code is USAGE or POLICY_INVALID naming the flag', async () => {
    expect((await jsonError(['verify', '--json'])).code).toBe('USAGE');
    const j = await jsonError(['verify', bundle, '--json', '--commit', 'abc1234']);
    expect(j.code).toBe('POLICY_INVALID');
  });

  it('when a bundle file cannot be read, the code is IO_ERROR', async () => {
    expect((await jsonError(['verify', join(dir, 'missing.tar.gz'), '--json'])).code).toBe(
      'IO_ERROR',
    );
  });

  it('when the policy file is invalid, the code is POLICY_INVALID with the failing field', async () => {
    const p = join(dir, 'bad-policy.json');
    writeFileSync(p, JSON.stringify({ builders: [{ name: 'a', iamRole: 'oops' }] }));
    const j = await jsonError(['verify', bundle, '--policy', p, '--json']);
    expect(j.code).toBe('POLICY_INVALID');
    expect(j.path).toBe('builders.0.iamRole');
  });

  it('when the message holds a name with a newline, the JSON stays one line and the stderr text is escaped', async () => {
    const r = await runCli(['verify', join(dir, 'no\nsuch\u2028file'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).not.toContain('\u2028');
    expect((JSON.parse(r.stdout) as JsonError).message).toContain('no\nsuch\u2028file');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no\\x0asuch\\u2028file');
  });

  it.each([
    ['attestation verify', ['attestation', 'verify', 'x.cbor', '--json', '--at', 'yesterday']],
    ['inputs', ['inputs', '--json', '--language', 'cobol']],
    ['eif describe', ['eif', 'describe', '--json']],
    ['build', ['build', '--json', '--frobnicate']],
    ['an unknown command', ['frobnicate', '--json']],
  ])(
    'when %s fails on its usage with --json, stdout is {"ok":false,"code":"USAGE"}',
    async (_what, args) => {
      expect((await jsonError(args)).code).toBe('USAGE');
    },
  );

  it('when another command cannot read its input or the input is not valid, stdout carries the code', async () => {
    const missing = join(dir, 'missing.bin');
    expect((await jsonError(['attestation', 'verify', missing, '--json'])).code).toBe('IO_ERROR');
    expect((await jsonError(['eif', 'describe', missing, '--json'])).code).toBe('IO_ERROR');
    const junk = join(dir, 'junk.cbor');
    writeFileSync(junk, 'not cbor');
    const decode = await jsonError(['attestation', 'inspect', junk, '--json']);
    expect(decode.code).toMatch(/^CBOR_|^COSE_/);
    const notGit = tempDirSync('json-errors-');
    writeFileSync(join(notGit, 'build.json'), '{');
    const r = await runCli(['inputs', notGit, '--json']);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as JsonError).code).toBe('CONFIG_INVALID');
  });

  it('when --json comes after --, it is an argument, not a request for JSON', async () => {
    const r = await runCli(['verify', '--frobnicate', '--', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('without --json, an exit-2 error prints nothing on stdout', async () => {
    const r = await runCli(['verify', join(dir, 'missing.tar.gz')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('cannot read');
  });
});
