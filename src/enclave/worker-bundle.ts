/**
 * The worker script the local backend runs. The enclave images ship the worker as one bundled
 * file (`tee-compile image build`, esbuild); the local backend does the same when esbuild is
 * installed (a development checkout): a bundle starts in about a third of the CPU time of the
 * ~200 modules of lib/, which is most of a small build's overhead. The bundle is cached, keyed by
 * the compiled files' names, sizes and times, so it is rebuilt only when lib/ changes. Without
 * esbuild (an installed package), lib/worker/main.js runs as it is.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { build } from 'esbuild';
import { WORKER_BANNER } from '../catalog/node.js';

/** Same banner as the images' bundle: CommonJS dependencies may `require` Node's modules. */
export { WORKER_BANNER };

async function libKey(lib: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.js')) {
        const st = await stat(p);
        h.update(`${relative(lib, p)}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  await walk(lib);
  return h.digest('hex').slice(0, 32);
}

/**
 * A bundled copy of `entry` (lib/worker/main.js) in `cacheDir`, built on first use; `entry`
 * itself when it cannot be bundled.
 */
export async function bundledWorker(entry: string, cacheDir: string): Promise<string> {
  if (!existsSync(entry)) return entry;
  try {
    const lib = dirname(dirname(entry));
    const dir = join(cacheDir, 'worker');
    const file = join(dir, `${await libKey(lib)}.mjs`);
    if (existsSync(file)) return file;
    let esbuild: { build: typeof build };
    try {
      // A development dependency: present in a checkout, absent from an installed package.
      esbuild = await import('esbuild');
    } catch {
      return entry;
    }
    await mkdir(dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      outfile: partial,
      logLevel: 'silent',
      legalComments: 'none',
      banner: { js: WORKER_BANNER },
    });
    await rename(partial, file);
    // Older bundles belong to older lib/ trees.
    for (const old of await readdir(dir))
      if (join(dir, old) !== file) await rm(join(dir, old), { force: true });
    return file;
  } catch {
    return entry;
  }
}
