/**
 * A stand-in Nitro host for tests: the stand-in nitro-cli and vsock bridge (bundled once per test
 * process with esbuild, like the worker in ./sandbox-worker.ts), a state directory with an enclave
 * pool, an images directory holding the simulated EIF of every catalog image, and a catalog in
 * which those EIFs are the published, measured images (so the nitro path runs as on a host whose
 * images are built).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { tempDir } from '../temp.js';
import { describeEifFile, writeEifFile } from '../../../src/eif/node.js';
import type { EifInput } from '../../../src/eif/index.js';
import type { ImageCatalog, ImageEntry } from '../../../src/catalog/index.js';
import { simulatedEifInput } from '../../../src/catalog/index.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import type { NitroBackendConfigInput } from '../../../src/enclave/nitro-config.js';
import type { EnclaveRecord, StandinConfig } from './nitro-standin-state.js';
import {
  STATE_ENV,
  USER_ENV,
  initState,
  killEnclave,
  liveRecords,
  readCalls,
  readConfig,
  updateConfig,
  withLock,
} from './nitro-standin-state.js';
import { workerBundle } from '../processes/sandbox-worker.js';
import { existsSync } from 'node:fs';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The worker as `npm run build` compiles it. */
const LIB_WORKER = join(ROOT, 'lib/worker/main.js');
/** The role the stand-in host attests as (PCR3). */
export const STANDIN_ROLE = 'arn:aws:iam::000000000000:role/tee-compile-nitro-standin';
/** Its instance id (enclave ids are `<instance>-enc<slot>`). */
export const STANDIN_INSTANCE = 'i-0123456789abcdef0';

let bundled: Promise<{ cli: string; bridge: string }> | undefined;

/** The stand-in nitro-cli and bridge, bundled (built on first use). */
export function standinBundles(): Promise<{ cli: string; bridge: string }> {
  bundled ??= (async () => {
    const dir = await tempDir('tc-nitro-standin-');
    await build({
      entryPoints: {
        'nitro-cli': join(ROOT, 'test/support/nitro-cli-standin.ts'),
        'vsock-bridge': join(ROOT, 'test/support/nitro-bridge-standin.ts'),
      },
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      chunkNames: 'chunks/[name]-[hash]',
      splitting: true,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      logLevel: 'error',
      legalComments: 'none',
      banner: {
        js: "import { createRequire as teeCreateRequire } from 'node:module'; const require = teeCreateRequire(import.meta.url);",
      },
    });
    return { cli: join(dir, 'nitro-cli.mjs'), bridge: join(dir, 'vsock-bridge.mjs') };
  })();
  return bundled;
}

/** Output of one stand-in invocation. */
export interface StandinRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stand-in Nitro host. */
export interface StandinHost {
  dir: string;
  stateDir: string;
  /** The `nitro-cli` executable (a wrapper naming this host's state directory). */
  nitroCli: string;
  /** The bridge command template (the stand-in for `socat - VSOCK-CONNECT:{cid}:{port}`). */
  bridgeCommand: string[];
  imagesDir: string;
  /** The package catalog with every image published as its simulated EIF. */
  catalog: ImageCatalog;
  /** Path of the EIF of each image, by name. */
  eifs: Record<string, string>;
  /** Settings of a nitro backend on this host (simulation on), with `over` applied. */
  backendConfig(over?: Partial<NitroBackendConfigInput>): NitroBackendConfigInput;
  /** Runs the stand-in nitro-cli directly (as `user`, default the same as the backend). */
  nitro(args: string[], user?: string): Promise<StandinRun>;
  /** Every nitro-cli invocation so far. */
  calls(): { argv: string[]; user: string }[];
  /** The arguments of every run-enclave so far. */
  runCalls(): string[][];
  /** Running enclaves, of every user. */
  enclaves(): EnclaveRecord[];
  config(): StandinConfig;
  configure(change: Partial<StandinConfig>): void;
  /** The input of the go image's simulated EIF, with `over` applied (for EIFs made to fail). */
  eifInput(over?: Partial<EifInput>): EifInput;
  /** Kills every enclave and removes the host's files. */
  remove(): Promise<void>;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Publishes the simulated EIF of `entry` in `imagesDir`; returns the entry as published. */
async function publish(imagesDir: string, entry: ImageEntry): Promise<[ImageEntry, string]> {
  const file = join(imagesDir, `${entry.name}-${entry.version}.eif`);
  await writeEifFile(file, simulatedEifInput(entry));
  const d = await describeEifFile(file);
  return [
    {
      ...entry,
      pcrs: { pcr0: d.measurements.pcr0, pcr1: d.measurements.pcr1, pcr2: d.measurements.pcr2 },
      eif: {
        sha256: await sha256(file),
        size: d.fileSize,
        url: `https://images.example/${entry.name}-${entry.version}.eif`,
      },
    },
    file,
  ];
}

/** Options of {@link createStandinHost}. */
export interface StandinHostOptions {
  /** CPU pool as cores (default 6 cores of 2 threads: CPUs 1-6 and their siblings 7-12). */
  cores?: number[][];
  /** Hugepage pool (default 16384 MiB). */
  memoryMiB?: number;
  /** Worker the enclaves run (default the compiled lib/worker/main.js, else the bundled worker). */
  workerEntry?: string;
  /** tee-jail: the worker runs the build command through it, as the images do (needs root). */
  jail?: string;
}

/** Creates a stand-in Nitro host (see the module comment). */
export async function createStandinHost(o: StandinHostOptions = {}): Promise<StandinHost> {
  const { cli, bridge } = await standinBundles();
  const dir = await mkdtemp(join(tmpdir(), 'tc-nitro-host-'));
  // The jailed build user must reach the workspace inside, as in the image (/tmp/tee-compile).
  if (o.jail !== undefined) await chmod(dir, 0o755);
  const stateDir = join(dir, 'state');
  const imagesDir = join(dir, 'images');
  initState(stateDir, {
    instanceId: STANDIN_INSTANCE,
    cores: o.cores ?? [
      [1, 7],
      [2, 8],
      [3, 9],
      [4, 10],
      [5, 11],
      [6, 12],
    ],
    memoryMiB: o.memoryMiB ?? 16384,
    hugepageMiB: 2,
    node: process.execPath,
    workerEntry: o.workerEntry ?? (existsSync(LIB_WORKER) ? LIB_WORKER : await workerBundle()),
    simulatedRole: STANDIN_ROLE,
    ...(o.jail !== undefined ? { jail: o.jail } : {}),
  });
  await mkdir(imagesDir);
  const wrapper = (target: string): string =>
    `#!/bin/sh\n: "\${${STATE_ENV}:=${stateDir}}"\nexport ${STATE_ENV}\nexec "${process.execPath}" "${target}" "$@"\n`;
  const nitroCli = join(dir, 'nitro-cli');
  const bridgeBin = join(dir, 'vsock-bridge');
  await writeFile(nitroCli, wrapper(cli));
  await writeFile(bridgeBin, wrapper(bridge));
  await chmod(nitroCli, 0o755);
  await chmod(bridgeBin, 0o755);
  const base = await loadImageCatalog();
  const eifs: Record<string, string> = {};
  const images: ImageEntry[] = [];
  for (const entry of base.images) {
    const [published, file] = await publish(imagesDir, entry);
    images.push(published);
    eifs[entry.name] = file;
  }
  const catalog: ImageCatalog = { ...base, images };
  const bridgeCommand = [bridgeBin, '-', 'VSOCK-CONNECT:{cid}:{port}'];
  return {
    dir,
    stateDir,
    nitroCli,
    bridgeCommand,
    imagesDir,
    catalog,
    eifs,
    backendConfig: (over = {}) => ({
      nitroCli,
      imagesDir,
      bridgeCommand,
      owner: 'test',
      simulation: true,
      bootTimeoutSeconds: 60,
      bootProbeIntervalMs: 100,
      pollIntervalMs: 200,
      threadsPerCore: 2,
      ...over,
    }),
    nitro: (args, user) =>
      new Promise((resolve) => {
        execFile(
          nitroCli,
          args,
          { env: { ...process.env, ...(user ? { [USER_ENV]: user } : {}) } },
          (err, stdout, stderr) =>
            resolve({
              code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
              stdout,
              stderr,
            }),
        );
      }),
    calls: () => readCalls(stateDir),
    runCalls: () =>
      readCalls(stateDir)
        .filter((c) => c.argv[0] === 'run-enclave')
        .map((c) => c.argv),
    enclaves: () => withLock(stateDir, () => liveRecords(stateDir)),
    config: () => readConfig(stateDir),
    configure: (change) => updateConfig(stateDir, change),
    eifInput: (over = {}) => ({
      ...simulatedEifInput(base.images.find((i) => i.name === 'go') ?? base.images[0]!),
      ...over,
    }),
    remove: async () => {
      for (const r of withLock(stateDir, () => liveRecords(stateDir))) killEnclave(r);
      // A killed enclave may still write its exit record while the folder goes: retry then.
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}
