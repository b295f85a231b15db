import { describe, expect, it } from '@jest/globals';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reachable } from '../support/imports.js';

const SRC = fileURLToPath(new URL('../../src/attestation/', import.meta.url));

describe('the attestation module in a browser', () => {
  const { files, external } = reachable(`${SRC}index.ts`);

  it('when following the imports of index.ts, it reaches the verifier, the codec and the software NSM', () => {
    const names = files.map((f) => f.slice(SRC.length));
    for (const f of [
      'verify.ts',
      'chain.ts',
      'cbor.ts',
      'x509.ts',
      'nsm-codec.ts',
      'software-nsm.ts',
      'sim-pki.ts',
    ])
      expect(names).toContain(f);
    // The strict CBOR decoder and the encoder are shared with the EIF module.
    for (const f of ['decode.ts', 'encode.ts']) expect(files).toContain(resolve(SRC, '../cbor', f));
  });

  it('when listing what those files import from outside, there is no Node built-in', () => {
    const node = [...external].filter((s) => s.startsWith('node:') || builtinModules.includes(s));
    expect(node).toEqual([]);
    expect([...external].sort()).toEqual([
      '@noble/hashes/sha2.js',
      '@peculiar/x509',
      'reflect-metadata',
    ]);
  });

  it('when following the verifier alone, it needs neither @peculiar/x509 nor reflect-metadata', () => {
    const v = reachable(`${SRC}verify.ts`);
    expect([...v.external]).toEqual(['@noble/hashes/sha2.js']);
  });
});
