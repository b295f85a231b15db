/**
 * The end-to-end check of one example: build it twice in place (this repository's examples/, a
 * subdirectory of the repository) with `tee-compile build --local`, verify both bundles, and
 * compare their outputs.
 */
import { expect } from '@jest/globals';
import { join } from 'node:path';
import type { BuildJson } from './build-cli.js';
import { cliBuildJson, cliVerify } from './build-cli.js';
import { REPO_ROOT } from '../source/build-repo.js';
import { tempDir } from '../temp.js';

/** Builds `examples/<name>` twice and verifies both; returns the two results. */
export async function buildExampleTwice(
  name: string,
  nonces: [string, string],
): Promise<[BuildJson, BuildJson]> {
  const work = await tempDir(`tc-e2e-${name}-`);
  const cache = join(work, 'cache');
  const results: BuildJson[] = [];
  for (const [i, nonce] of nonces.entries()) {
    // --allow-dirty: a development checkout has uncommitted files; the committed tree is built.
    const r = await cliBuildJson(
      [
        `examples/${name}`,
        '--local',
        '--allow-dirty',
        '--nonce',
        nonce,
        '--out',
        join(work, `${name}-${i}.bundle.tar.gz`),
      ],
      REPO_ROOT,
      cache,
    );
    const v = await cliVerify(r.bundle, nonce, r.source.commit, REPO_ROOT);
    expect({ code: v.code, stderr: v.stderr }).toEqual({ code: 0, stderr: '' });
    expect(v.stdout).toContain('SIMULATED');
    results.push(r);
  }
  return [results[0]!, results[1]!];
}
