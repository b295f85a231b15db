import { describe, expect, it } from '@jest/globals';
import { buildExampleTwice } from '../support/cli/build-examples.js';

describe('examples/go-hello', () => {
  it('when built twice with tee-compile build --local, both bundles verify and the outputs are identical', async () => {
    const [a, b] = await buildExampleTwice('go-hello', ['55'.repeat(32), '66'.repeat(32)]);
    expect(a.subjects.map((s) => s.name)).toEqual(['examples/go-hello/bin/go-hello']);
    expect(b.subjects).toEqual(a.subjects);
  });
});
