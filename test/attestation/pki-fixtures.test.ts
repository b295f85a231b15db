import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { trustAnchorFromPem, verifyAttestation } from '../../src/attestation/index.js';

const DIR = fileURLToPath(new URL('../fixtures/pki/', import.meta.url));
const { documents } = JSON.parse(readFileSync(`${DIR}expected.json`, 'utf8')) as {
  documents: Record<string, { anchor: 'root.pem' | 'aws'; code: string; note: string }>;
};
const root = trustAnchorFromPem('root.pem', readFileSync(`${DIR}root.pem`, 'utf8'));

describe('test/fixtures/pki (written by scripts/gen-test-pki.ts)', () => {
  it('when listing the fixtures, there is a valid document and at least ten broken ones', () => {
    expect(documents['valid.cbor']?.code).toBe('OK');
    expect(Object.keys(documents).length).toBeGreaterThanOrEqual(11);
  });

  it.each(Object.entries(documents).map(([f, e]) => [f, e.code, e.note, e.anchor] as const))(
    'when verifying %s, it yields %s (%s)',
    async (file, code, _note, anchor) => {
      const bytes = new Uint8Array(readFileSync(`${DIR}${file}`));
      const r = await verifyAttestation(bytes, anchor === 'aws' ? {} : { trustAnchors: [root] });
      if (code === 'OK') expect(r.ok).toBe(true);
      else expect(r).toBeRefusedWith(code);
    },
  );
});
