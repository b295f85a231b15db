import { describe, expect, it } from '@jest/globals';
import { runCli } from '../support/cli/cli.js';

describe('tee-compile', () => {
  it('when called without a command, prints usage and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: tee-compile <command>');
  });

  it('when given an unknown command, names it and exits 2', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('prints its version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
