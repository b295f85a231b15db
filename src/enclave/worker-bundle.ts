/**
 * The worker script the local backend runs. The enclave images ship the worker as one bundled
 * file (`tee-compile image build`, esbuild); the local backend bundles it too when esbuild is
 * installed (a development checkout): a bundle starts in about a third of the CPU time of the
 * ~200 modules of lib/, which is most of a small build's overhead. Its libraries loaded on demand
 * (OpenPGP.js, for signed commits and tags) go to chunks of their own, so that a worker compiles
 * only what every build runs; zod's messages in other languages are left out. The bundle is a
 * directory cached by the compiled files' names, sizes and times, so it is rebuilt only when lib/
 * changes. Without esbuild (an installed package), lib/worker/main.js runs as it is.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { BuildOptions, Plugin, build } from 'esbuild';
import { WORKER_BANNER } from '../catalog/node.js';

/** Same banner as the images' bundle: CommonJS dependencies may `require` Node's modules. */
export { WORKER_BANNER };

/** The entry file inside a bundle's directory. */
export const WORKER_BUNDLE_ENTRY = 'main.mjs';

/**
 * The key of lib/'s compiled files. Synchronous: it runs on every local build's start, where
 * ~370 asynchronous `stat` calls in sequence cost 30-80 ms and these a few.
 */
function libKey(lib: string): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js')) {
        const st = statSync(p);
        h.update(`${relative(lib, p)}\0${st.size}\0${st.mtimeMs}\n`);
      }
    }
  };
  walk(lib);
  return h.digest('hex').slice(0, 32);
}

/**
 * An esbuild plugin that bundles zod with its English messages only. zod's namespace exports
 * every language's (`z.locales`, ~400 KB, 13 % of the worker) though none is ever configured
 * here; each bundle would otherwise compile them on every start.
 */
export function zodEnglishOnly(): Plugin {
  return {
    name: 'zod-english-only',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
        /[\\/]zod[\\/]/.test(a.importer)
          ? { path: join(a.resolveDir, '..', 'locales', 'index.js'), namespace: 'zod-locales' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (a) => ({
        contents: `export { default as en } from ${JSON.stringify(join(dirname(a.path), 'en.js'))};\n`,
        resolveDir: dirname(a.path),
      }));
    },
  };
}

/**
 * The esbuild options of a bundle for Node split in ES modules (an entry named `main.mjs`, a
 * `chunk-<hash>.mjs` per piece loaded on demand), zod in English only: the worker's here, the
 * command line's in scripts/bundle-cli.mjs.
 */
export function splitNodeBundle(target: string): BuildOptions {
  return {
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    platform: 'node',
    format: 'esm',
    target,
    plugins: [zodEnglishOnly()],
  };
}

/**
 * A bundled copy of `entry` (lib/worker/main.js) under `cacheDir`, built on first use; `entry`
 * itself when it cannot be bundled.
 */
export async function bundledWorker(entry: string, cacheDir: string): Promise<string> {
  if (!existsSync(entry)) return entry;
  try {
    const lib = dirname(dirname(entry));
    const dir = join(cacheDir, 'worker');
    const key = libKey(lib);
    const file = join(dir, key, WORKER_BUNDLE_ENTRY);
    if (existsSync(file)) return file;
    let esbuild: { build: typeof build };
    try {
      // A development dependency: present in a checkout, absent from an installed package.
      esbuild = await import('esbuild');
    } catch {
      return entry;
    }
    await mkdir(dir, { recursive: true });
    const partial = join(dir, `.${key}.${process.pid}.partial`);
    await esbuild.build({
      ...splitNodeBundle(`node${process.versions.node.split('.')[0]}`),
      entryPoints: { main: entry },
      outdir: partial,
      logLevel: 'silent',
      legalComments: 'none',
      banner: { js: WORKER_BANNER },
    });
    await rename(partial, join(dir, key)).catch(async (e: NodeJS.ErrnoException) => {
      // Another process made the same bundle first: use it.
      await rm(partial, { recursive: true, force: true });
      if (!existsSync(file)) throw e;
    });
    // Older bundles belong to older lib/ trees.
    for (const old of await readdir(dir))
      if (old !== key && !old.startsWith('.'))
        await rm(join(dir, old), { recursive: true, force: true });
    return file;
  } catch {
    return entry;
  }
}
