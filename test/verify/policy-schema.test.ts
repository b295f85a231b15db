import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { policyJsonSchema } from '../../src/verify/policy-schema.js';

const committed = new URL('../../schemas/policy.schema.json', import.meta.url);

describe('schemas/policy.schema.json', () => {
  it('when compared with the schema generated from the zod schema, it is current (else run node scripts/schemas.mjs)', () => {
    const file: unknown = JSON.parse(readFileSync(committed, 'utf8'));
    expect(file).toEqual(policyJsonSchema());
  });

  it('when read, it describes builders as an iamRole or a pcr3, and refuses unknown fields', () => {
    const s = policyJsonSchema() as {
      additionalProperties: boolean;
      properties: { builders: { items: { anyOf: { required: string[] }[] } } };
    };
    expect(s.additionalProperties).toBe(false);
    expect(s.properties.builders.items.anyOf.map((b) => b.required)).toEqual([
      ['name', 'iamRole'],
      ['name', 'pcr3'],
    ]);
  });
});
