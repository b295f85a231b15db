/**
 * Stand-ins for the NSM helper (`tee-nsm`: one CBOR request on stdin, the CBOR response on stdout,
 * documented exit statuses). `software` answers with a software NSM holding fixed PCRs, like the
 * device would; the others misbehave in the ways the transport must survive.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { tempDir } from '../temp.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** PCR0..4 of the `software` helper: bytes 0x10+i repeated. */
export function helperPcr(i: number): Uint8Array {
  return new Uint8Array(48).fill(0x10 + i);
}

const SOFTWARE = `
import { SoftwareNsm } from './src/attestation/index.ts';
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const pcrs = new Map([0, 1, 2, 3, 4].map((i) => [i, new Uint8Array(48).fill(0x10 + i)]));
const nsm = await SoftwareNsm.create({ pcrs, moduleId: 'i-0123456789abcdef0-enc0123456789abcdef' });
process.stdout.write(await nsm.request(new Uint8Array(Buffer.concat(chunks))));
`;

export type HelperBehaviour = 'software' | 'no-device' | 'silent' | 'oversized' | 'hang';

const SCRIPTS: Record<Exclude<HelperBehaviour, 'software'>, string> = {
  'no-device':
    '#!/bin/sh\ncat >/dev/null\necho "tee-nsm: /dev/nsm: No such file or directory" >&2\nexit 3\n',
  silent: '#!/bin/sh\ncat >/dev/null\nexit 0\n',
  oversized: '#!/bin/sh\ncat >/dev/null\nhead -c 20000 /dev/zero\n',
  hang: '#!/bin/sh\nexec sleep 60\n',
};

/** Writes a helper with `behaviour` into a fresh directory; returns its path. */
export async function fakeNsmHelper(behaviour: HelperBehaviour): Promise<string> {
  const dir = await tempDir('tc-nsm-');
  const file = join(dir, 'tee-nsm');
  if (behaviour === 'software') {
    const js = join(dir, 'helper.mjs');
    await build({
      stdin: { contents: SOFTWARE, resolveDir: ROOT, loader: 'ts', sourcefile: 'helper.ts' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: js,
      logLevel: 'error',
      banner: {
        js: "import { createRequire as cr } from 'node:module'; const require = cr(import.meta.url);",
      },
    });
    await writeFile(file, `#!/bin/sh\nexec "${process.execPath}" "${js}"\n`);
  } else {
    await writeFile(file, SCRIPTS[behaviour]);
  }
  await chmod(file, 0o755);
  return file;
}
