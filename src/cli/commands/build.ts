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
import { IAM_ROLE_ARN_RE, isAttestationError } from '../../attestation/index.js';
import { isBundleError } from '../../bundle/index.js';
import type { BuildEvent, BuildResult } from '../../client/index.js';
import { runBuild } from '../../client/index.js';
import { isEnclaveError } from '../../enclave/index.js';
import { parseNonceHex } from '../../util/nonce.js';
import { ImageCatalogError } from '../../catalog/index.js';
import { loadImageCatalog } from '../../catalog/node.js';
import type { ImageCatalog } from '../../catalog/index.js';
import type { BackendConfig, EnclaveBackend } from '../../enclave/index.js';
import { createBackend, DEFAULT_SIMULATED_ROLE, NitroConfigError } from '../../enclave/index.js';
import { PhaseClock, formatTimings } from '../../client/index.js';
import { isProvenanceError } from '../../provenance/index.js';
import {
  KmsError,
  MAX_SEALED_KEY_FILE_BYTES,
  isKmsError,
  parseSealedKey,
} from '../../kms/index.js';
import { kmsClientFromEnv, kmsUnsealer } from '../../kms/node.js';
import { readBoundedFile } from '../../util/node.js';
import {
  MAX_NONCE_BYTES,
  MIN_NONCE_BYTES,
  isProtocolError,
  isWorkerError,
} from '../../protocol/index.js';
import { TeeCompileError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { CommandError, EXIT_OK, EXIT_REFUSED, UsageError, writeLine } from '../io.js';

const USAGE = `usage: tee-compile build [dir] --local [--config <build.json>] [--nonce <hex>] [--out <bundle.tar.gz>]
    [--simulated-role <arn>] [--sealed-key <builder-key.json>] [--allow-dirty] [--allow-unisolated]
    [--tag <name>] [--pgp-key <file>]... [--json]
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
  --sealed-key <file>      sign provenance.json with this host's KMS-sealed builder key
                           (tee-compile kms create-builder-key; see docs/builder-key.md):
                           KMS releases it only to the enclave after its build has exited
  --allow-dirty            build the committed tree even when the work tree has changes
  --allow-unisolated       build without namespaces when the OS refuses them (recorded)
  --tag <name>             a build of this annotated tag (it must name the commit checked out):
                           its object and signature are checked in the enclave and recorded
  --pgp-key <file>         an armored OpenPGP public key the enclave checks commit and tag
                           signatures with (repeatable; recorded as given)
  --json                   print one JSON object with the result

Progress and the build log go to stderr. Exit status: 0 built; 1 the build or a check failed;
2 usage or I/O error; 128 + n after signal n (SIGINT, SIGTERM, SIGHUP: the build is cancelled
and the enclave stopped first; a third signal exits at once).`;

/** Largest OpenPGP key file read. */
const MAX_PGP_KEY_FILE_BYTES = 64 * 1024;

async function readKeyFiles(files: readonly string[]): Promise<string[]> {
  return Promise.all(
    files.map(async (f) => (await readBoundedFile(f, MAX_PGP_KEY_FILE_BYTES)).toString('utf8')),
  );
}

const EXIT_CODES_USAGE = new Set(['SOURCE_NOT_GIT', 'CONFIG_MISSING', 'CATALOG_UNREADABLE']);

function parseNonce(hex: string): Uint8Array {
  const n = parseNonceHex(hex);
  if (!n.ok) throw new UsageError(`--nonce: ${n.message}`);
  return new Uint8Array(Buffer.from(n.hex, 'hex'));
}

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
          builder: { pcr3: r.builderPcr3, key: r.builderKey },
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
  writeLine(
    io.stdout,
    `signed  ${r.builderKey === null ? 'no builder signature' : `builder key ${r.builderKey} (provenance.dsse.json)`}`,
  );
}

/**
 * Prints a failure; returns the exit status. One that is the caller's to fix (exit 2) is thrown as
 * a CommandError, printed by `main` (as JSON too with --json).
 */
function failure(io: CliIo, err: unknown): number {
  if (!(err instanceof TeeCompileError)) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code))
      throw new CommandError('IO_ERROR', (err as Error).message);
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
    isKmsError(err) ||
    err instanceof ImageCatalogError;
  if (!known) throw err;
  if (EXIT_CODES_USAGE.has(err.code))
    throw new CommandError(
      err.code,
      `${err.code}${err.path ? ` (${err.path})` : ''}: ${err.message}`,
      err.path,
    );
  writeLine(
    io.stderr,
    `tee-compile build: ${err.code}${err.path ? ` (${err.path})` : ''}: ${err.message}`,
  );
  if (isWorkerError(err) && err.logTail && err.logTail.length > 0) {
    writeLine(io.stderr, 'tee-compile build: last lines of the build log:');
    for (const l of err.logTail) writeLine(io.stderr, `  | ${l}`);
  }
  return EXIT_REFUSED;
}

/** Makes the chosen backend; a bad nitro settings file is a usage error naming the field. */
async function makeBackend(
  name: 'local' | 'nitro',
  catalog: ImageCatalog,
  io: CliIo,
  o: { role: string; allowUnisolated: boolean; nitroConfig: string | undefined },
): Promise<EnclaveBackend> {
  const workerEntry = io.env.TEE_COMPILE_WORKER;
  const config: BackendConfig = {
    catalog,
    env: io.env,
    local: {
      simulatedRole: o.role,
      allowUnisolated: o.allowUnisolated,
      ...(workerEntry ? { workerEntry } : {}),
    },
    log: (m) => writeLine(io.stderr, `tee-compile: ${m}`),
  };
  if (name === 'nitro') config.nitro = await readNitroSettings(o.nitroConfig!);
  try {
    return createBackend(name, config);
  } catch (e) {
    if (e instanceof NitroConfigError)
      throw new UsageError(`--nitro-config ${o.nitroConfig}: ${e.message}`);
    throw e;
  }
}

/** The nitro settings file; as in the agent's configuration, a relative imagesDir is relative to it. */
async function readNitroSettings(file: string): Promise<unknown> {
  let settings: unknown;
  try {
    settings = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--nitro-config ${file}: ${(e as Error).message}`);
  }
  if (
    settings !== null &&
    typeof settings === 'object' &&
    typeof (settings as { imagesDir?: unknown }).imagesDir === 'string'
  ) {
    const s = settings as { imagesDir: string };
    settings = { ...s, imagesDir: resolve(dirname(file), s.imagesDir) };
  }
  return settings;
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
async function removeLeftovers(backend: EnclaveBackend, io: CliIo): Promise<void> {
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

/** The sealed builder key of `file` with its unsealing through KMS (region from the file). */
async function sealedKeyOf(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{
  fingerprint: string;
  unseal: (doc: Uint8Array) => Promise<Uint8Array>;
  close: () => void;
}> {
  let text: string;
  try {
    text = (await readBoundedFile(file, MAX_SEALED_KEY_FILE_BYTES)).toString('utf8');
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException).code === 'string') throw e;
    throw new KmsError('SEALED_KEY_INVALID', `${file}: ${(e as Error).message}`, { cause: e });
  }
  const sealed = await parseSealedKey(text, file);
  const client = await kmsClientFromEnv(sealed.region, env);
  return {
    fingerprint: sealed.fingerprint,
    unseal: kmsUnsealer(client, sealed),
    close: () => client.destroy(),
  };
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
      'sealed-key': { type: 'string' },
      'allow-dirty': { type: 'boolean', default: false },
      'allow-unisolated': { type: 'boolean', default: false },
      tag: { type: 'string' },
      'pgp-key': { type: 'string', multiple: true },
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
  if (!IAM_ROLE_ARN_RE.test(role))
    throw new UsageError(
      `--simulated-role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got ${role}`,
    );
  const nonce = values.nonce !== undefined ? parseNonce(values.nonce) : undefined;
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  const out = resolve(io.cwd, values.out ?? `${basename(dir)}.bundle.tar.gz`);
  const config = values.config !== undefined ? resolve(io.cwd, values.config) : undefined;

  const cancel = cancelOnSignals(io);
  let builderKey: Awaited<ReturnType<typeof sealedKeyOf>> | undefined;
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
    builderKey =
      values['sealed-key'] === undefined
        ? undefined
        : await sealedKeyOf(resolve(io.cwd, values['sealed-key']), io.env);
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
      ...(values.tag !== undefined ? { tag: values.tag } : {}),
      ...(values['pgp-key'] !== undefined
        ? { pgpKeys: await readKeyFiles(values['pgp-key'].map((f) => resolve(io.cwd, f))) }
        : {}),
      env: io.env,
      onEvent,
      signal: cancel.signal,
      buildId: `cli-${stamp}-${randomUUID().slice(0, 8)}`,
      ...(builderKey !== undefined
        ? { builderKey: { fingerprint: builderKey.fingerprint, unseal: builderKey.unseal } }
        : {}),
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
    builderKey?.close();
    cancel.dispose();
  }
}
