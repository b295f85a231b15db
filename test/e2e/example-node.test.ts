import { describe, expect, it } from '@jest/globals';
import { buildExampleTwice } from '../support/cli/build-examples.js';

describe('examples/node-ts', () => {
  it('when built twice with tee-compile build --local, both bundles verify and the outputs are identical', async () => {
    const [a, b] = await buildExampleTwice('node-ts', ['33'.repeat(32), '44'.repeat(32)]);
    expect(a.subjects.map((s) => s.name)).toEqual([
      'examples/node-ts/dist/index.d.ts',
      'examples/node-ts/dist/index.js',
    ]);
    expect(b.subjects).toEqual(a.subjects);
  });
});
