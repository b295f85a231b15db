/**
 * The worker as the enclave images ship it: src/worker/main.ts bundled by esbuild into one .mjs
 * (the same options as `tee-compile image build`). Tests run the TypeScript sources, so the local
 * backend needs this file to start real workers. Built once per test process.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { LocalBackendOptions } from '../../../src/enclave/local.js';
import type { Enclave, EnclaveSpec } from '../../../src/enclave/types.js';
import { LocalBackend } from '../../../src/enclave/local.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import { tempDir } from '../temp.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
let bundled: Promise<string> | undefined;

/**
 * Bundles `entry` (TypeScript) into one ESM script for Node at `outfile`, as the worker is shipped
 * (CommonJS dependencies get a `require`).
 */
export async function bundleForNode(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    logLevel: 'error',
    legalComments: 'none',
    banner: {
      js: "import { createRequire as teeCreateRequire } from 'node:module'; const require = teeCreateRequire(import.meta.url);",
    },
  });
  return outfile;
}

/** Path of the bundled worker (built on first use). */
export function workerBundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await tempDir('tc-worker-');
    return bundleForNode(join(ROOT, 'src/worker/main.ts'), join(dir, 'worker.mjs'));
  })();
  return bundled;
}

/** A local backend running the bundled worker, with the package's image catalog. */
export async function sandboxBackend(opts: LocalBackendOptions = {}): Promise<LocalBackend> {
  return new LocalBackend({
    catalog: await loadImageCatalog(),
    workerEntry: await workerBundle(),
    ...opts,
  });
}

/** `backend`, keeping the last enclave it started (`started()`), for tests that act on it. */
export function keepingStarted(backend: LocalBackend): {
  backend: LocalBackend;
  started: () => Enclave | undefined;
} {
  let last: Enclave | undefined;
  const keeping = Object.create(backend) as LocalBackend;
  keeping.start = async (spec: EnclaveSpec) => (last = await backend.start(spec));
  return { backend: keeping, started: () => last };
}

/** Environment for the in-process CLI so that its local backend runs the bundled worker. */
export async function cliEnv(extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> {
  return { ...process.env, TEE_COMPILE_WORKER: await workerBundle(), ...extra };
}
