/**
 * `tee-compile build [dir] --local|--backend nitro …`: builds the committed source of the repository holding
 * `dir` inside a single-use enclave and writes the attested bundle. A thin layer over
 * `runBuild` (src/client/run-build.ts): flags in, progress to stderr, the result to stdout.
 *
 * Signals: SIGINT, SIGTERM and SIGHUP cancel the build; the command still stops the enclave and
 * removes its files before it exits (128 + the signal's number). A second signal meanwhile is
 * only reported; a third exits at once.
 *
 * Leftovers: a build's enclave is named after this process (`cli-<pid>.<start time>-…`). At
 * start, the command has the backend remove the enclaves (and the local backend's directories)
 * of earlier runs whose process is gone, e.g. killed with SIGKILL; never those of a run still
 * going, nor any enclave named otherwise.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isArchiveError } from '../../archive/index.js';
import { isAttestationError } from '../../attestation/index.js';
import { isBundleError } from '../../bundle/index.js';
import type { BuildEvent, BuildResult } from '../../client/run-build.js';
import { runBuild } from '../../client/run-build.js';
import { PhaseClock, formatTimings } from '../../client/phase-clock.js';
import { isEnclaveError } from '../../enclave/errors.js';
import { ImageCatalogError } from '../../enclave/images.js';
import { loadImageCatalog } from '../../enclave/images-node.js';
import type { ImageCatalog } from '../../enclave/images.js';
import { DEFAULT_SIMULATED_ROLE, LocalBackend } from '../../enclave/local.js';
import type { NitroBackend } from '../../enclave/nitro.js';
import { NitroConfigError } from '../../enclave/nitro-errors.js';
import { isProvenanceError } from '../../provenance/index.js';
import {
  MAX_NONCE_BYTES,
  MIN_NONCE_BYTES,
  isProtocolError,
  isWorkerError,
} from '../../protocol/index.js';
import { TeeCompileError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, writeLine } from '../io.js';

const USAGE = `usage: tee-compile build [dir] --local [--config <build.json>] [--nonce <hex>] [--out <bundle.tar.gz>]
    [--simulated-role <arn>] [--allow-dirty] [--allow-unisolated] [--json]
       tee-compile build [dir] --backend nitro --nitro-config <file> [--config …] [--nonce …] [--out …]

Builds the committed source of the git repository holding <dir> (default: the current directory)
inside a fresh, single-use enclave, and writes the attested bundle (provenance.json,
attestation.cbor, build.log, artifacts/). <dir> may be a subdirectory: its build.json is used and
the command runs there (the path is recorded). The worker re-checks every input: the tree and
commit ids, each dependency against the lockfile; the build has no network.

  --local                  the local backend: a sandboxed process (network, mount and pid
                           namespaces, memory cgroup) attesting with the software NSM; its
                           bundles say SIMULATED and verify only with --allow-simulated
  --backend <local|nitro>  where to build; --local is --backend local. nitro: a Nitro
                           Enclave started with nitro-cli on this host (see docs/nitro-backend.md)
  --nitro-config <file>    the nitro backend's settings, JSON (imagesDir, nitroCli, bridge, …)
  --images <file>          the image catalog (default: enclave/images.json shipped with
                           tee-compile), e.g. to try images not yet published
  --config <file>          build.json to use (default: <dir>/build.json)
  --nonce <hex>            the nonce to bind the attestation to, ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes
                           (default: 32 random bytes, printed)
  --out <file>             where to write the bundle (default: <dir name>.bundle.tar.gz)
  --simulated-role <arn>   IAM role whose PCR3 the local backend reports
                           (default: ${DEFAULT_SIMULATED_ROLE})
  --allow-dirty            build the committed tree even when the work tree has changes
  --allow-unisolated       build without namespaces when the OS refuses them (recorded)
  --json                   print one JSON object with the result

Progress and the build log go to stderr. Exit status: 0 built; 1 the build or a check failed;
2 usage or I/O error; 128 + n after signal n (SIGINT, SIGTERM, SIGHUP: the build is cancelled
and the enclave stopped first; a third signal exits at once).`;

const EXIT_CODES_USAGE = new Set(['SOURCE_NOT_GIT', 'CONFIG_MISSING', 'CATALOG_UNREADABLE']);

function parseNonce(hex: string): Uint8Array {
  const t = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(t))
    throw new UsageError('--nonce must be hex (an even number of digits)');
  const n = t.length / 2;
  if (n < MIN_NONCE_BYTES || n > MAX_NONCE_BYTES)
    throw new UsageError(
      `--nonce must be ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes (got ${n})`,
    );
  return new Uint8Array(Buffer.from(t, 'hex'));
}

const ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** Writes progress to stderr: phases, the build log, and what the enclave is. */
function progress(io: CliIo, clock: PhaseClock): (e: BuildEvent) => void {
  const say = (s: string): void => writeLine(io.stderr, `tee-compile: ${s}`);
  return (e) => {
    const ended = clock.event(e);
    if (ended !== undefined) say(`(${ended.ended} took ${(ended.ms / 1000).toFixed(2)} s)`);
    switch (e.type) {
      case 'prepared':
        say(
          `source ${e.source.repository ?? '(no remote)'} commit ${e.source.commit ?? '-'} tree ${e.source.tree}` +
            (e.workdir === '.' ? '' : ` (workdir ${e.workdir})`),
        );
        if (e.source.dirty)
          say('the work tree has uncommitted changes: building the committed tree only');
        say(`${e.language}, ${e.dependencies} locked dependencies, ${e.inputBytes} bytes of input`);
        break;
      case 'enclave':
        if (e.state === 'running' && e.isolation)
          say(
            `enclave ${e.id ?? ''} running (${e.isolation.backend}: network ${e.isolation.network}, filesystem ${e.isolation.filesystem}, memory ${e.isolation.memory})`,
          );
        break;
      case 'phase':
        say(`${e.phase}${e.detail && e.phase !== 'building' ? `: ${e.detail}` : ''}`);
        break;
      case 'log':
        for (const l of e.lines) writeLine(io.stderr, `  | ${l}`);
        break;
      default:
        break;
    }
  };
}

function printResult(
  io: CliIo,
  r: BuildResult,
  json: boolean,
  timings: ReturnType<PhaseClock['finish']>,
): void {
  if (!json) writeLine(io.stderr, `tee-compile: timings: ${formatTimings(timings)}`);
  if (json) {
    writeLine(
      io.stdout,
      JSON.stringify(
        {
          bundle: r.bundle.path,
          bundleSha256: r.bundle.sha256,
          subjects: r.subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
          source: {
            repository: r.source.repository,
            commit: r.source.commit,
            tree: r.source.tree,
            workdir: r.source.workdir,
          },
          nonce: r.nonce,
          image: r.image,
          builder: { pcr3: r.builderPcr3 },
          simulated: r.simulated,
          isolation: r.isolation,
          timings,
        },
        null,
        2,
      ),
    );
    return;
  }
  for (const s of r.subjects) writeLine(io.stdout, `sha256:${s.sha256}  ${s.name}`);
  writeLine(io.stdout, `bundle  ${r.bundle.path}`);
  writeLine(io.stdout, `source  ${r.source.commit ?? '-'} (tree ${r.source.tree})`);
  writeLine(io.stdout, `nonce   ${r.nonce}`);
  writeLine(
    io.stdout,
    `image   ${r.image.name}@${r.image.version}${r.simulated ? ' (SIMULATED: software NSM, not Nitro hardware)' : ''}`,
  );
}

/** Prints a failure; returns the exit status. */
function failure(io: CliIo, err: unknown): number {
  if (!(err instanceof TeeCompileError)) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      writeLine(io.stderr, `tee-compile build: ${(err as Error).message}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const known =
    isWorkerError(err) ||
    isProtocolError(err) ||
    isEnclaveError(err) ||
    isProvenanceError(err) ||
    isArchiveError(err) ||
    isBundleError(err) ||
    isAttestationError(err) ||
    err instanceof ImageCatalogError;
  if (!known) throw err;
  writeLine(
    io.stderr,
    `tee-compile build: ${err.code}${err.path ? ` (${err.path})` : ''}: ${err.message}`,
  );
  if (isWorkerError(err) && err.logTail && err.logTail.length > 0) {
    writeLine(io.stderr, 'tee-compile build: last lines of the build log:');
    for (const l of err.logTail) writeLine(io.stderr, `  | ${l}`);
  }
  return EXIT_CODES_USAGE.has(err.code) ? EXIT_USAGE : EXIT_REFUSED;
}

/** Makes the chosen backend; a bad nitro settings file is a usage error naming the field. */
async function makeBackend(
  name: 'local' | 'nitro',
  catalog: ImageCatalog,
  io: CliIo,
  o: { role: string; allowUnisolated: boolean; nitroConfig: string | undefined },
): Promise<LocalBackend | NitroBackend> {
  if (name === 'local') {
    const workerEntry = io.env.TEE_COMPILE_WORKER;
    return new LocalBackend({
      catalog,
      env: io.env,
      simulatedRole: o.role,
      allowUnisolated: o.allowUnisolated,
      ...(workerEntry ? { workerEntry } : {}),
    });
  }
  // On demand: the nitro backend brings the EIF code and its X.509 library, which a local build
  // never needs.
  const { createBackend } = await import('../../enclave/backends.js');
  let settings: unknown;
  try {
    settings = JSON.parse(await readFile(o.nitroConfig!, 'utf8'));
  } catch (e) {
    throw new UsageError(`--nitro-config ${o.nitroConfig}: ${(e as Error).message}`);
  }
  // As in the agent's configuration file: a relative imagesDir is relative to the file.
  if (
    settings !== null &&
    typeof settings === 'object' &&
    typeof (settings as { imagesDir?: unknown }).imagesDir === 'string'
  ) {
    const s = settings as { imagesDir: string };
    settings = { ...s, imagesDir: resolve(dirname(o.nitroConfig!), s.imagesDir) };
  }
  try {
    return createBackend('nitro', {
      catalog,
      env: io.env,
      nitro: settings,
      log: (m) => writeLine(io.stderr, `tee-compile: ${m}`),
    }) as NitroBackend;
  } catch (e) {
    if (e instanceof NitroConfigError)
      throw new UsageError(`--nitro-config ${o.nitroConfig}: ${e.message}`);
    throw e;
  }
}

/** The signals that cancel a build. */
export const CANCEL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type CancelSignal = (typeof CANCEL_SIGNALS)[number];
/** How long a cancelled command waits for work it no longer needs (a dependency fetch) to end. */
const CANCEL_EXIT_WAIT_MS = 2000;

/** Cancels the build on the first signal; see the module comment. */
function cancelOnSignals(io: CliIo): {
  signal: AbortSignal;
  received: () => CancelSignal | undefined;
  dispose: () => void;
} {
  const abort = new AbortController();
  let first: CancelSignal | undefined;
  let count = 0;
  const say = (s: string): void => writeLine(io.stderr, `tee-compile: ${s}`);
  const ignore = (): void => undefined;
  const on = (sig: CancelSignal): void => {
    count++;
    if (count === 1) {
      first = sig;
      // A hung-up terminal fails writes (EIO): that must not end the command before the cleanup.
      io.stdout.on('error', ignore);
      io.stderr.on('error', ignore);
      say(`${sig}: cancelling the build and stopping the enclave`);
      abort.abort();
    } else if (count === 2) {
      say(
        `${sig}: still stopping the enclave; another signal exits at once and may leave it behind`,
      );
    } else {
      say(`${sig}: exiting without waiting (the next build removes what is left)`);
      process.exit(128 + constants.signals[sig]);
    }
  };
  const handlers = CANCEL_SIGNALS.map((sig) => [sig, () => on(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return {
    signal: abort.signal,
    received: () => first,
    dispose: () => {
      // The error handlers stay: the last lines are written after this.
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}

/**
 * This process as a build id part: `<pid>.<start time>` (field 22 of /proc/<pid>/stat, clock
 * ticks since boot), so that a later process with the same pid is not taken for it.
 */
async function processStamp(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const start = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .at(22 - 3);
  return start !== undefined && /^\d+$/.test(start) ? `${pid}.${start}` : undefined;
}

/** The part of an enclave name or id that names the command run it belongs to. */
const RUN_STAMP = /(?:^|-)cli-(\d+)\.(\d+)-/;

/**
 * Whether the run that named an enclave `name` may still be going: true unless the name has a
 * run stamp whose process is gone (or is another process now). Enclaves named otherwise are
 * another program's: kept.
 */
async function runMayLive(name: string): Promise<boolean> {
  const m = RUN_STAMP.exec(name);
  if (m === null) return true;
  const pid = Number(m[1]);
  if (m[2] === '0') {
    // No start time could be read: only the pid tells.
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  }
  const now = await processStamp(pid);
  if (now !== undefined) return now === `${pid}.${m[2]}`;
  return existsProc(pid);
}

async function existsProc(pid: number): Promise<boolean> {
  try {
    await readFile(`/proc/${pid}/cmdline`);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** Removes what earlier runs of this command left (their process is gone); never fails the build. */
async function removeLeftovers(backend: LocalBackend | NitroBackend, io: CliIo): Promise<void> {
  try {
    const removed = await backend.cleanupOrphans(({ name }) => runMayLive(name));
    for (const id of removed)
      writeLine(io.stderr, `tee-compile: removed ${id}, left by an earlier build that was killed`);
  } catch (e) {
    writeLine(
      io.stderr,
      `tee-compile: could not remove what earlier builds left: ${(e as Error).message}`,
    );
  }
}

/** `tee-compile build`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      local: { type: 'boolean', default: false },
      backend: { type: 'string' },
      'nitro-config': { type: 'string' },
      images: { type: 'string' },
      config: { type: 'string' },
      nonce: { type: 'string' },
      out: { type: 'string' },
      'simulated-role': { type: 'string' },
      'allow-dirty': { type: 'boolean', default: false },
      'allow-unisolated': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 1)
    throw new UsageError(`one project directory at most (got ${positionals.length})`);
  if (values.local && values.backend !== undefined && values.backend !== 'local')
    throw new UsageError(`--local and --backend ${values.backend} contradict each other`);
  const backendName = values.backend ?? (values.local ? 'local' : undefined);
  if (backendName === undefined)
    throw new UsageError(
      'choose where to build: --local (a simulated enclave, anywhere), or --backend nitro --nitro-config <file> (on a Nitro host)',
    );
  if (backendName !== 'local' && backendName !== 'nitro')
    throw new UsageError(`--backend must be local or nitro (got ${backendName})`);
  if (backendName === 'nitro') {
    if (values['nitro-config'] === undefined)
      throw new UsageError(
        '--backend nitro needs --nitro-config <file> (see docs/nitro-backend.md)',
      );
    if (values['simulated-role'] !== undefined || values['allow-unisolated'])
      throw new UsageError(
        '--simulated-role and --allow-unisolated apply to the local backend only',
      );
  } else if (values['nitro-config'] !== undefined) {
    throw new UsageError('--nitro-config applies to --backend nitro only');
  }
  const role = values['simulated-role'] ?? DEFAULT_SIMULATED_ROLE;
  if (!ARN.test(role))
    throw new UsageError(
      `--simulated-role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got ${role}`,
    );
  const nonce = values.nonce !== undefined ? parseNonce(values.nonce) : undefined;
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  const out = resolve(io.cwd, values.out ?? `${basename(dir)}.bundle.tar.gz`);
  const config = values.config !== undefined ? resolve(io.cwd, values.config) : undefined;

  const cancel = cancelOnSignals(io);
  try {
    const catalog = await loadImageCatalog(
      values.images !== undefined ? resolve(io.cwd, values.images) : undefined,
    );
    const backend = await makeBackend(backendName, catalog, io, {
      role,
      allowUnisolated: values['allow-unisolated'],
      nitroConfig:
        values['nitro-config'] === undefined ? undefined : resolve(io.cwd, values['nitro-config']),
    });
    await removeLeftovers(backend, io);
    const stamp = (await processStamp(process.pid)) ?? `${process.pid}.0`;
    const clock = new PhaseClock();
    const onEvent = progress(io, clock);
    if (nonce === undefined)
      writeLine(
        io.stderr,
        'tee-compile: no --nonce given: using a random one (printed with the result)',
      );
    const result = await runBuild({
      dir,
      out,
      backend,
      catalog,
      ...(config !== undefined ? { configFile: config } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      allowDirty: values['allow-dirty'],
      env: io.env,
      onEvent,
      signal: cancel.signal,
      buildId: `cli-${stamp}-${randomUUID().slice(0, 8)}`,
    });
    printResult(io, result, values.json, clock.finish());
    return EXIT_OK;
  } catch (err) {
    const sig = cancel.received();
    if (sig === undefined) return failure(io, err);
    writeLine(io.stderr, `tee-compile build: cancelled (${sig}); the enclave was stopped`);
    const code = 128 + constants.signals[sig];
    // Work the build no longer waits for (a dependency fetch) does not keep the command alive.
    setTimeout(() => process.exit(code), CANCEL_EXIT_WAIT_MS).unref();
    return code;
  } finally {
    cancel.dispose();
  }
}
