import { describe, expect, it } from '@jest/globals';
import { buildExampleTwice } from '../support/cli/build-examples.js';

describe('examples/rust-hello', () => {
  it('when built twice with tee-compile build --local, both bundles verify and the outputs are identical', async () => {
    const [a, b] = await buildExampleTwice('rust-hello', ['11'.repeat(32), '22'.repeat(32)]);
    expect(a.subjects.map((s) => s.name)).toEqual([
      'examples/rust-hello/target/release/rust-hello',
    ]);
    expect(b.subjects).toEqual(a.subjects);
    expect(a.source.workdir).toBe('examples/rust-hello');
    expect(a.simulated).toBe(true);
    expect(a.nonce).toBe('11'.repeat(32));
  });
});
