/**
 * The worker's entry point, what every enclave image runs:
 *
 *   node worker.mjs --listen 127.0.0.1:5000 --nsm device --nsm-helper /usr/local/bin/tee-nsm \
 *     --jail /usr/local/bin/tee-jail --image /opt/tee-compile/image.json \
 *     --workspace /tmp/tee-compile/build
 *
 * `--jail <tee-jail>` runs the build command as `--build-user <uid>:<gid>` (default 10001:10001)
 * in namespaces of its own (see jail.ts); `--nsm device` requires it, and makes `--nsm-device`
 * (default /dev/nsm) root-only first.
 *
 * The local backend runs it with `--listen ipc` (the listening socket arrives over Node's IPC
 * channel, see src/enclave/local.ts) and `--nsm simulated`. One connection, one build, then exit
 * (single use): 0 when the bundle was delivered, 1 when the build was refused and the client told,
 * 2 when the session failed (connection lost, timeout), 3 when the worker could not start.
 */
import { realpathSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { acceptOne, listenOnce, serveBuild, DEFAULT_WORKER_LIMITS } from '../protocol/index.js';
import type { IsolationReport } from '../contracts/index.js';
import type { ImageDescriptor } from './image.js';
import { readImageDescriptor } from './image.js';
import { DEFAULT_BUILD_GID, DEFAULT_BUILD_UID, parseBuildUser } from './jail.js';
import type { ReadyWorker, WorkerOptions } from './start.js';
import { WORKER_VERSION } from './version.js';

/** How long the worker waits for its one client. */
export const ACCEPT_TIMEOUT_MS = 10 * 60 * 1000;

export const EXIT_DELIVERED = 0;
export const EXIT_REFUSED = 1;
export const EXIT_SESSION_FAILED = 2;
export const EXIT_START_FAILED = 3;

function log(line: string): void {
  process.stderr.write(`tee-compile-worker: ${line}\n`);
}

/** Parses the worker's command line; throws a TypeError naming the flag. */
export function parseWorkerArgs(argv: string[]): WorkerOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      listen: { type: 'string' },
      nsm: { type: 'string' },
      'nsm-helper': { type: 'string', default: '/usr/local/bin/tee-nsm' },
      image: { type: 'string' },
      workspace: { type: 'string' },
      'simulated-role': { type: 'string' },
      'simulated-instance-id': { type: 'string' },
      'enclave-id': { type: 'string' },
      jail: { type: 'string' },
      'build-user': { type: 'string' },
      'nsm-device': { type: 'string' },
    },
  });
  const need = (k: 'listen' | 'nsm' | 'image' | 'workspace'): string => {
    const v = values[k];
    if (v === undefined || v === '') throw new TypeError(`--${k} is required`);
    return v;
  };
  const nsm = need('nsm');
  if (nsm !== 'device' && nsm !== 'simulated')
    throw new TypeError(`--nsm must be device or simulated (got ${nsm})`);
  const listen = need('listen');
  let listenOn: WorkerOptions['listen'];
  if (listen === 'ipc') listenOn = { kind: 'ipc' };
  else {
    const m = /^(.+):(\d{1,5})$/.exec(listen);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 0 && port <= 65535))
      throw new TypeError(`--listen must be host:port or ipc (got ${listen})`);
    listenOn = { kind: 'tcp', host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  }
  const o: WorkerOptions = {
    listen: listenOn,
    nsm:
      nsm === 'device' ? { kind: 'device', helper: values['nsm-helper'] } : { kind: 'simulated' },
    imageFile: need('image'),
    workspace: need('workspace'),
  };
  if (values['simulated-role'] !== undefined) o.simulatedRole = values['simulated-role'];
  if (values['simulated-instance-id'] !== undefined)
    o.simulatedInstanceId = values['simulated-instance-id'];
  if (values['enclave-id'] !== undefined) o.enclaveId = values['enclave-id'];
  if (values.jail !== undefined) {
    if (values.jail === '') throw new TypeError('--jail needs the path of tee-jail');
    const user =
      values['build-user'] !== undefined
        ? parseBuildUser(values['build-user'])
        : { uid: DEFAULT_BUILD_UID, gid: DEFAULT_BUILD_GID };
    o.jail = { helper: values.jail, ...user };
  } else if (values['build-user'] !== undefined) {
    throw new TypeError('--build-user needs --jail');
  }
  if (values['nsm-device'] !== undefined) {
    if (o.nsm.kind !== 'device') throw new TypeError('--nsm-device needs --nsm device');
    o.nsmDevice = values['nsm-device'];
  }
  return o;
}

/** The listening socket handed over by the local backend, with its isolation report. */
function receiveHandle(): Promise<{
  server: NetServer;
  isolation: IsolationReport;
}> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) {
      reject(
        new TypeError(
          '--listen ipc needs an IPC channel (the local backend starts the worker with one)',
        ),
      );
      return;
    }
    process.on('message', (m: unknown, handle: unknown) => {
      const msg = m as { type?: unknown; isolation?: IsolationReport } | null;
      if (msg?.type === 'listen' && handle && typeof (handle as { on?: unknown }).on === 'function')
        resolve({
          server: handle as NetServer,
          isolation: msg.isolation ?? ({} as IsolationReport),
        });
    });
    process.send({ type: 'ready' });
  });
}

/**
 * Runs the worker; resolves with its exit status. The worker listens as soon as it knows its image
 * and prepares the rest (the NSM, its PCRs, its isolation, the build code) while the client
 * connects; under the device NSM it prepares first, so that an enclave without one fails at start.
 */
export async function main(argv: string[]): Promise<number> {
  let opts: WorkerOptions;
  try {
    opts = parseWorkerArgs(argv);
  } catch (e) {
    log(`usage: ${(e as Error).message}`);
    return EXIT_START_FAILED;
  }
  const o = opts;
  const handle = o.listen.kind === 'ipc' ? receiveHandle() : undefined;
  let image: ImageDescriptor;
  let server: NetServer;
  let prepared: Promise<ReadyWorker>;
  try {
    image = await readImageDescriptor(o.imageFile);
    const img = image;
    prepared = import('./start.js').then((m) =>
      m.startWorker(o, img, handle ? async () => (await handle).isolation : undefined),
    );
    // Settled here so that a failure is reported where it is awaited, never as unhandled.
    prepared.catch(() => undefined);
    // Without a working NSM there is nothing to attest with: fail at start, not after a build.
    if (o.nsm.kind === 'device') await (await prepared).facts();
    if (handle) {
      server = (await handle).server;
      process.send?.({ type: 'listening' });
    } else if (o.listen.kind === 'tcp') {
      server = await listenOnce(o.listen.host, o.listen.port);
      const at = server.address();
      log(`listening on ${typeof at === 'object' && at ? `${at.address}:${at.port}` : String(at)}`);
    } else {
      throw new Error('unreachable listen mode');
    }
  } catch (e) {
    log(`cannot start: ${(e as Error).message}`);
    return EXIT_START_FAILED;
  }
  let ws;
  try {
    ws = await acceptOne(server, {
      maxPayload: DEFAULT_WORKER_LIMITS.maxFrameBytes,
      timeoutMs: ACCEPT_TIMEOUT_MS,
    });
  } catch (e) {
    log(`no client: ${(e as Error).message}`);
    return EXIT_SESSION_FAILED;
  }
  const outcome = await serveBuild(
    ws,
    {
      worker: `tee-compile-worker/${WORKER_VERSION}`,
      image: { name: image.name, version: image.version, language: image.language },
    },
    async (build, report) => (await prepared).handler(build, report),
  );
  if (outcome.ok) {
    log(`build delivered (${outcome.subjects} outputs)`);
    return EXIT_DELIVERED;
  }
  log(
    `build ended: ${outcome.code}: ${outcome.message}${outcome.sentToClient ? '' : ' (the client was not told)'}`,
  );
  return outcome.sentToClient ? EXIT_REFUSED : EXIT_SESSION_FAILED;
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(EXIT_START_FAILED);
    },
  );
}
