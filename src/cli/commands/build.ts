/**
 * `tee-compile build [dir] --local|--backend nitro …`: builds the committed source of the repository holding
 * `dir` inside a single-use enclave and writes the attested bundle. A thin layer over
 * `runBuild` (src/client/run-build.ts): flags in, progress to stderr, the result to stdout.
 *
 * Signals: SIGINT, SIGTERM and SIGHUP cancel the build; the command still stops the enclave and
 * removes its files before it exits (see build-signals.ts). Leftovers of earlier runs whose
 * process is gone are removed at start (see build-stamps.ts). The backend and the sealed key are
 * made in build-backend.ts; progress, result and failures are written by build-report.ts.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { IAM_ROLE_ARN_RE } from '../../attestation/index.js';
import { PhaseClock, runBuild } from '../../client/index.js';
import { loadImageCatalog } from '../../catalog/node.js';
import { DEFAULT_SIMULATED_ROLE } from '../../enclave/index.js';
import { readBoundedFile } from '../../util/node.js';
import { parseNonceHex } from '../../util/nonce.js';
import { MAX_NONCE_BYTES, MIN_NONCE_BYTES } from '../../protocol/index.js';
import type { CliIo } from '../io.js';
import { EXIT_OK, UsageError, writeLine } from '../io.js';
import { makeBackend, sealedKeyOf } from './build-backend.js';
import { failure, printResult, progress } from './build-report.js';
import { CANCEL_EXIT_WAIT_MS, cancelOnSignals } from './build-signals.js';
import { processStamp, removeLeftovers } from './build-stamps.js';

export { CANCEL_SIGNALS } from './build-signals.js';

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

function parseNonce(hex: string): Uint8Array {
  const n = parseNonceHex(hex);
  if (!n.ok) throw new UsageError(`--nonce: ${n.message}`);
  return new Uint8Array(Buffer.from(n.hex, 'hex'));
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
