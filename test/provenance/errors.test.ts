import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  PROVENANCE_ERROR_CODES,
  ProvenanceError,
  isProvenanceError,
} from '../../src/provenance/index.js';
import { TeeCompileError } from '../../src/errors.js';

describe('provenance error codes', () => {
  it('when the reference is read, every code has a row explaining it', () => {
    const doc = readFileSync(new URL('../../docs/provenance.md', import.meta.url), 'utf8');
    for (const code of PROVENANCE_ERROR_CODES) expect(doc).toContain(`| \`${code}\` |`);
  });

  it('when raised, an error is a TeeCompileError with its code and path', () => {
    const e = new ProvenanceError('CONFIG_INVALID', 'build.json: x: expected y', { path: 'x' });
    expect(e).toBeInstanceOf(TeeCompileError);
    expect(isProvenanceError(e)).toBe(true);
    expect(isProvenanceError(new Error('x'))).toBe(false);
    expect(e.name).toBe('ProvenanceError');
    expect(e.path).toBe('x');
  });
});
