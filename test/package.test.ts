/**
 * The package as its users import it: every entry of package.json `exports` resolves (through
 * Node's self-reference by package name) to built code with the functions it promises.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

/** Names each entry must export (a few that define it, not an exhaustive list). */
const PROMISED: Record<string, string[]> = {
  '.': [
    'verifyBundle',
    'verifyBundles',
    'parsePolicy',
    'verifyAttestation',
    'AWS_NITRO_ROOT_G1',
    'readBundle',
    'parseStatement',
  ],
  './node': [
    'nodeCryptoVerifier',
    'loadTrustPolicy',
    'openBundleFile',
    'writeBundle',
    'runBuild',
    'createBackend',
    'loadImageCatalog',
  ],
  './attestation': ['verifyAttestation', 'decodeAttestation', 'SoftwareNsm', 'NsmClient'],
  './provenance': ['parseBuildConfig', 'buildStatement', 'parseStatement', 'merkleRoot'],
  './bundle': ['readBundle', 'encodeBundle'],
  './verify': ['verifyBundle', 'verifyBundles', 'buildTrustPolicy'],
};

function exportedNames(specifier: string): string[] {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  return JSON.parse(out) as string[];
}

describe('package exports', () => {
  it('when package.json lists its entries, each one is promised here (no entry untested)', () => {
    expect(
      Object.keys(pkg.exports)
        .filter((k) => k !== './package.json')
        .sort(),
    ).toEqual(Object.keys(PROMISED).sort());
  });

  it.each(Object.entries(PROMISED))(
    'when a user imports tee-compile%s, it gets %j',
    (entry, names) => {
      const specifier = entry === '.' ? pkg.name : `${pkg.name}${entry.slice(1)}`;
      expect(exportedNames(specifier)).toEqual(expect.arrayContaining(names));
    },
  );
});
