import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('the verify path runs in browsers', () => {
  it.each(['src/index.ts', 'src/verify/index.ts', 'src/bundle/index.ts'])(
    'when %s is bundled for the browser, nothing reachable from it imports a Node module',
    async (entry) => {
      const r = await build({
        entryPoints: [`${root}${entry}`],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        logLevel: 'silent',
        metafile: true,
      });
      const inputs = Object.keys(r.metafile.inputs);
      expect(inputs.filter((p) => p.startsWith('node:') || p.includes('/node.ts'))).toEqual([]);
      expect(inputs.some((p) => p.includes('src/verify/diffoscope'))).toBe(false);
    },
  );
});
