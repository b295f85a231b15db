/**
 * scripts/pin-github-jwks.mjs on copies of src/oidc/github-jwks.ts (`--file`), fed JWKS copies
 * (`--from`; the live endpoint is out of reach here): new keys are added with where and when they
 * were taken, pinned keys are kept, a pinned kid with another modulus and keys the verifier would
 * refuse stop it, and `--check` reports without writing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { GITHUB_ACTIONS_JWKS } from '../../src/oidc/index.js';
import type { PinnedJwks } from '../../src/oidc/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/pin-github-jwks.mjs');
const PINNED_TS = join(ROOT, 'src/oidc/github-jwks.ts');
const dir = mkdtempSync(join(tmpdir(), 'pin-jwks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh copy of the committed file. */
function copy(): string {
  const f = join(dir, `github-jwks-${n++}.ts`);
  copyFileSync(PINNED_TS, f);
  return f;
}

function jwks(keys: object[]): string {
  const f = join(dir, `jwks-${n++}.json`);
  writeFileSync(f, JSON.stringify({ keys }));
  return f;
}

function rsa(bits: number, kid: string): object {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { kty: 'RSA', alg: 'RS256', use: 'sig', kid, ...publicKey.export({ format: 'jwk' }) };
}

function pin(...args: string[]): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout };
}

/** The pinned block of a file, as the script reads it. */
function block(file: string): PinnedJwks {
  const text = readFileSync(file, 'utf8');
  const body = text.slice(text.indexOf('// BEGIN PINNED'), text.indexOf('// END PINNED'));
  return JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)) as PinnedJwks;
}

describe('scripts/pin-github-jwks.mjs', () => {
  it('when read back, the committed block is the set the verifier uses', () => {
    expect(block(PINNED_TS)).toEqual(JSON.parse(JSON.stringify(GITHUB_ACTIONS_JWKS)));
  });

  it('when a copy holds a new key, it is added first with where and when it was taken, and every pinned key is kept', () => {
    const file = copy();
    const fresh = rsa(2048, 'NEWKEY0001');
    const r = pin('--file', file, '--from', jwks([fresh]), '--where', 'a test copy');
    expect(r.status).toBe(0);
    const after = block(file);
    expect(after.keys).toHaveLength(GITHUB_ACTIONS_JWKS.keys.length + 1);
    expect(after.keys[0]).toMatchObject({ kid: 'NEWKEY0001', from: 'a test copy' });
    expect(Number.isNaN(Date.parse(after.keys[0]!.takenAt))).toBe(false);
    expect(after.keys.slice(1)).toEqual(JSON.parse(JSON.stringify(GITHUB_ACTIONS_JWKS.keys)));
    expect(after.takenAt).toBe(after.keys[0]!.takenAt);
  });

  it('when a copy holds only pinned keys, nothing is added', () => {
    const file = copy();
    const source = fileURLToPath(
      new URL('../fixtures/github-oidc/jwks-forgejo-2026.json', import.meta.url),
    );
    expect(pin('--file', file, '--from', source, '--where', 'again').status).toBe(0);
    expect(block(file).keys).toEqual(JSON.parse(JSON.stringify(GITHUB_ACTIONS_JWKS.keys)));
  });

  it('when --check finds a key not pinned, it exits 1 naming it and writes nothing', () => {
    const file = copy();
    const r = pin(
      '--check',
      '--file',
      file,
      '--from',
      jwks([rsa(2048, 'NEWKEY0002')]),
      '--where',
      'x',
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('not pinned: NEWKEY0002');
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(PINNED_TS, 'utf8'));
  });

  it.each([
    ['a pinned kid with another modulus', () => [rsa(2048, GITHUB_ACTIONS_JWKS.keys[0]!.kid)]],
    ['a key under 2048 bits', () => [rsa(1024, 'SMALLKEY')]],
    ['an RSA key without kid', () => [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }]],
  ])('when the copy has %s, it stops with status 2 and writes nothing', (_what, keys) => {
    const file = copy();
    expect(pin('--file', file, '--from', jwks(keys()), '--where', 'x').status).toBe(2);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(PINNED_TS, 'utf8'));
  });

  it('when --from is given without --where, it stops with status 2', () => {
    expect(pin('--file', copy(), '--from', jwks([rsa(2048, 'K')])).status).toBe(2);
  });
});
