/**
 * One attested build, end to end, as a library call (the CLI's `build` and the agent use it):
 * prepare the inputs, start a single-use enclave, run the protocol over its byte stream, write
 * the bundle, stop the enclave. Progress arrives as typed events.
 *
 * Order: the local backend's enclave starts while the inputs are prepared (neither needs the
 * other). Its own few steps come first, up to its worker's launch: the preparation keeps the
 * event loop busy (process spawns, hashing), and the worker's start, in its own process, then
 * overlaps all of it. A Nitro enclave holds the inputs in its memory, so it is sized from their
 * sizes and starts once they are prepared.
 *
 * Cancel: the abort signal ends the wait for the inputs, the enclave's start and the session at
 * once (PROTOCOL_CANCELLED); the enclave is stopped before the call returns, whatever it was
 * doing.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { fileChunks } from '../archive/node.js';
import { SIMULATION_ROOT, decodeAttestation } from '../attestation/index.js';
import {
  BUNDLE_ATTESTATION,
  BUNDLE_ENVELOPE,
  BUNDLE_PROVENANCE,
  BundleError,
} from '../bundle/index.js';
import { gunzipBounded, readTar } from '../archive/index.js';
import { collect } from '../util/bytes.js';
import type {
  Enclave,
  EnclaveBackend,
  EnclaveExit,
  ImageRef,
  IsolationReport,
} from '../enclave/index.js';
import { EnclaveError } from '../enclave/index.js';
import type { ImageCatalog } from '../catalog/index.js';
import { findImage } from '../catalog/index.js';
import type { NitroStartSpec } from '../enclave/index.js';
import type { BuildConfig } from '../provenance/index.js';
import { ProvenanceError } from '../provenance/index.js';
import { readTagObject } from '../provenance/node.js';
import type { BuildSubmission, ClientInput, SessionEvent } from '../protocol/index.js';
import { MAX_NONCE_BYTES, MIN_NONCE_BYTES, ProtocolError, submitBuild } from '../protocol/index.js';
import { bytesEqual, toHex } from '../util/hex.js';
import type { PrepareOptions, PreparedInputs } from './inputs.js';
import { prepareInputs, readProjectConfig } from './inputs.js';

/** Resources when build.json sets none. */
export const DEFAULT_CPUS = 2;
export const DEFAULT_MEMORY_MIB = 4096;
/** Build time limit when build.json sets none (seconds); the worker applies the same default. */
export const DEFAULT_TIMEOUT_S = 3600;
/** Time an enclave gets beyond the build's own limit: receiving, checking, attesting, sending. */
export const ENCLAVE_TIME_MARGIN_MS = 10 * 60 * 1000;
/** How long a worker that delivered its bundle gets to exit on its own before it is stopped. */
export const WORKER_EXIT_GRACE_MS = 2000;
/** Random nonce size when none is given. */
export const DEFAULT_NONCE_BYTES = 32;

/** Progress of a build. */
export type BuildEvent =
  | {
      type: 'prepared';
      source: { repository: string | null; commit: string | null; tree: string; dirty: boolean };
      workdir: string;
      language: BuildConfig['language'];
      dependencies: number;
      inputBytes: number;
    }
  | { type: 'enclave'; state: 'starting' | 'running'; id?: string; isolation?: IsolationReport }
  | SessionEvent;

export interface RunBuildOptions {
  /** Project directory (build.json), anywhere inside a git work tree. */
  dir: string;
  /** Where the bundle is written. */
  out: string;
  backend: EnclaveBackend;
  /** The image catalog (enclave/images.json). */
  catalog: ImageCatalog;
  /** build.json to use instead of `<dir>/build.json`. */
  configFile?: string;
  /** The client's nonce (16..64 bytes); default 32 random bytes. */
  nonce?: Uint8Array;
  allowDirty?: boolean;
  cacheDir?: string;
  env?: NodeJS.ProcessEnv;
  onEvent?: (e: BuildEvent) => void;
  signal?: AbortSignal;
  /** Build id (enclave names); default a random UUID. */
  buildId?: string;
  /** Where the source comes from (see `PrepareOptions`): a git checkout (default) or plain files. */
  sourceKind?: PrepareOptions['sourceKind'];
  sourceRoot?: string;
  /** A dependency set prepared elsewhere (tar file), sent instead of fetching one. */
  dependencySet?: string;
  /** Repository URL to record instead of the one git reports. */
  repository?: string;
  /**
   * A sealed builder key (src/kms/): the worker signs provenance.json with it after the build,
   * once `unseal` (KMS Decrypt with the worker's attestation as Recipient) answered. Without it
   * the build is unsigned, as before.
   */
  builderKey?: {
    fingerprint: string;
    unseal: (attestation: Uint8Array) => Promise<Uint8Array>;
  };
  /** Build the annotated tag of this name (it must name the commit checked out). */
  tag?: string;
  /** OpenPGP public keys (armored) the worker may check signatures with; recorded as given. */
  pgpKeys?: readonly string[];
  /** The workflow's OIDC token, audience `tee-compile:<nonce hex>`. */
  oidcToken?: string;
}

/** The `origin` of a build request: the tag's object, OpenPGP keys and the OIDC token. */
async function buildOrigin(
  o: RunBuildOptions,
  source: PreparedInputs['source'],
): Promise<BuildSubmission['origin']> {
  const origin: NonNullable<BuildSubmission['origin']> = {};
  if (o.tag !== undefined) {
    if (source.commit === null)
      throw new ProvenanceError('SOURCE_TAG_INVALID', 'a tag can be built only from a git source');
    const raw = await readTagObject(o.dir, o.tag, source.commit, o.env ? { env: o.env } : {});
    origin.tag = { name: o.tag, object: Buffer.from(raw).toString('base64') };
  }
  if (o.pgpKeys !== undefined && o.pgpKeys.length > 0) origin.pgpKeys = [...o.pgpKeys];
  if (o.oidcToken !== undefined) origin.oidcToken = o.oidcToken;
  return Object.keys(origin).length > 0 ? origin : undefined;
}

/** A finished build. */
export interface BuildResult {
  bundle: { path: string; size: number; sha256: string };
  subjects: { name: string; sha256: string }[];
  source: {
    repository: string | null;
    commit: string | null;
    tree: string;
    objectFormat: string;
    dirty: boolean;
    workdir: string;
  };
  nonce: string;
  image: ImageRef & { pcr0: string; pcr1: string; pcr2: string };
  /** PCR3 as attested (the builder's IAM role). */
  builderPcr3: string;
  /** Fingerprint of the builder key that signed provenance.json, or null (no builder signature). */
  builderKey: string | null;
  /** Signed by the software NSM (the local backend): verifiers refuse it unless told otherwise. */
  simulated: boolean;
  isolation: IsolationReport;
}

function input(file: string, size: number): ClientInput {
  return { size, open: () => fileChunks(file) };
}

function bytes(b: Uint8Array): ClientInput {
  return {
    size: b.length,
    open: async function* () {
      if (b.length > 0) yield b;
    },
  };
}

/**
 * After a protocol failure, the enclave's own ending says more (killed, out of memory, timed
 * out): the failure is reported as ENCLAVE_EXITED with both.
 */
async function explain(err: unknown, enclave: Enclave): Promise<unknown> {
  if (!(err instanceof ProtocolError) || err.code !== 'PROTOCOL_CONNECTION_LOST') return err;
  const exit = await Promise.race([
    enclave.exited,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000).unref()),
  ]);
  if (exit === undefined || exit.reason === 'exited' || exit.reason === 'stopped') return err;
  return new EnclaveError('ENCLAVE_EXITED', `${exit.message} (${err.message})`, { cause: err });
}

/** Largest attestation document read back from a bundle. */
const MAX_ATTESTATION_BYTES = 64 * 1024;

/**
 * attestation.cbor of a bundle, read without unpacking the artifacts (it is the second entry).
 * Only to report PCR3: verification is `tee-compile verify`'s job.
 */
async function bundleAttestation(file: string): Promise<Uint8Array> {
  // Read in small pieces: the members wanted are the first few kilobytes of the stream.
  for await (const e of readTar(gunzipBounded(fileChunks(file, 64 * 1024), 1024 ** 4))) {
    if (e.path === BUNDLE_ATTESTATION && e.type === 'file' && e.size <= MAX_ATTESTATION_BYTES)
      return collect(e.body);
    if (e.type === 'file') for await (const _ of e.body);
    if (e.path !== BUNDLE_PROVENANCE && e.path !== BUNDLE_ENVELOPE) break;
  }
  throw new BundleError(
    'BUNDLE_MEMBER_MISSING',
    `${file}: no attestation.cbor where the layout puts it`,
  );
}

const cancelled = (): ProtocolError =>
  new ProtocolError('PROTOCOL_CANCELLED', 'the build was cancelled');

/**
 * `p`, or a PROTOCOL_CANCELLED rejection as soon as `signal` fires (`p` goes on; its caller
 * cleans up what it gives).
 */
function unlessCancelled<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Runs one build (see the module comment). Throws our typed errors; the bundle is at `out` on success. */
export async function runBuild(o: RunBuildOptions): Promise<BuildResult> {
  if (o.signal?.aborted) throw cancelled();
  const nonce = o.nonce ?? new Uint8Array(randomBytes(DEFAULT_NONCE_BYTES));
  if (nonce.length < MIN_NONCE_BYTES || nonce.length > MAX_NONCE_BYTES)
    throw new RangeError(
      `nonce must be ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes (got ${nonce.length})`,
    );
  // build.json first: a malformed one is refused before anything starts.
  const project = await readProjectConfig(o.dir, o.configFile);
  const { config } = project;
  const entry = findImage(o.catalog, {
    language: config.language,
    ...(config.image?.name !== undefined ? { name: config.image.name } : {}),
    ...(config.image?.version !== undefined ? { version: config.image.version } : {}),
    ...(o.backend.name === 'nitro' ? { measured: true } : {}),
  });
  const image: ImageRef = { name: entry.name, version: entry.version, language: entry.language };
  const timeoutS = config.timeout ?? DEFAULT_TIMEOUT_S;
  const spec: NitroStartSpec = {
    buildId: o.buildId ?? randomUUID(),
    image,
    cpus: config.resources?.cpus ?? DEFAULT_CPUS,
    memoryMiB: config.resources?.memoryMiB ?? DEFAULT_MEMORY_MIB,
    timeoutMs: timeoutS * 1000 + ENCLAVE_TIME_MARGIN_MS,
    ...(o.signal ? { signal: o.signal } : {}),
  };
  let launched: Promise<void> = Promise.resolve();
  const start = (): Promise<Enclave> => {
    o.onEvent?.({ type: 'enclave', state: 'starting' });
    let onLaunched!: () => void;
    launched = new Promise<void>((resolve) => (onLaunched = resolve));
    const p = o.backend.start({ ...spec, onLaunched });
    // Settled even when nobody waits any more (a cancel, a failed preparation); a start that
    // ends without calling onLaunched ends the wait for it too.
    p.then(onLaunched, onLaunched);
    return p;
  };
  // See the module comment for the order.
  let starting = o.backend.name === 'nitro' ? undefined : start();
  const preparing = launched.then(() => {
    if (o.signal?.aborted) throw cancelled();
    return prepareInputs({
      dir: o.dir,
      project,
      ...(o.allowDirty !== undefined ? { allowDirty: o.allowDirty } : {}),
      ...(o.cacheDir !== undefined ? { cacheDir: o.cacheDir } : {}),
      ...(o.env !== undefined ? { env: o.env } : {}),
      ...(o.sourceKind !== undefined ? { sourceKind: o.sourceKind } : {}),
      ...(o.sourceRoot !== undefined ? { sourceRoot: o.sourceRoot } : {}),
      ...(o.dependencySet !== undefined ? { dependencySet: o.dependencySet } : {}),
      ...(o.repository !== undefined ? { repository: o.repository } : {}),
    });
  });
  let prepared: PreparedInputs;
  try {
    prepared = await unlessCancelled(preparing, o.signal);
  } catch (e) {
    // Inputs that arrive after a cancel are removed when they do.
    void preparing.then(
      (p) => p.cleanup(),
      () => undefined,
    );
    await stopWhenStarted(starting);
    throw e;
  }
  let enclave: Enclave | undefined;
  const partial = `${o.out}.partial-${process.pid}`;
  try {
    const { source, workdir } = prepared;
    o.onEvent?.({
      type: 'prepared',
      source: {
        repository: source.repository ?? null,
        commit: source.commit,
        tree: source.tree,
        dirty: source.dirty,
      },
      workdir,
      language: config.language,
      dependencies: prepared.dependencies.length,
      inputBytes:
        prepared.sourceArchive.size +
        (prepared.depsArchive?.size ?? 0) +
        prepared.configBytes.length,
    });
    if (starting === undefined) {
      // Sized by the inputs (see the module comment).
      spec.inputs = {
        sourceBytes: prepared.sourceArchive.size,
        depsBytes: prepared.depsArchive?.size ?? 0,
      };
      starting = start();
    }
    enclave = await unlessCancelled(starting, o.signal);
    o.onEvent?.({
      type: 'enclave',
      state: 'running',
      id: enclave.id,
      isolation: enclave.isolation,
    });
    const origin = await buildOrigin(o, source);
    const stream = await enclave.connect();
    let session;
    try {
      session = await submitBuild(
        stream,
        {
          nonce,
          workdir,
          source: {
            repository: source.repository ?? null,
            commit: source.commit,
            tree: source.tree,
            objectFormat: source.objectFormat,
          },
          inputs: {
            config: bytes(prepared.configBytes),
            commit: bytes(source.commitObject ?? new Uint8Array(0)),
            source: prepared.sourceArchive,
            deps: prepared.depsArchive
              ? input(prepared.depsArchive.file, prepared.depsArchive.size)
              : bytes(new Uint8Array(0)),
          },
          ...(o.builderKey ? { signing: { keyFingerprint: o.builderKey.fingerprint } } : {}),
          ...(origin !== undefined ? { origin } : {}),
        },
        {
          bundleFile: partial,
          ...(o.onEvent ? { onEvent: o.onEvent } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          // The session ends with the enclave's time limit.
          limits: { totalTimeoutMs: spec.timeoutMs },
          client: 'tee-compile',
          ...(o.builderKey ? { unseal: o.builderKey.unseal } : {}),
        },
      );
    } catch (err) {
      throw await explain(err, enclave);
    }
    // The worker exits by itself once the bundle is sent; let it, rather than kill it. The bundle
    // is put in place and its attestation read meanwhile.
    const [, attestation] = await Promise.all([
      Promise.race([
        enclave.exited,
        new Promise((r) => setTimeout(r, WORKER_EXIT_GRACE_MS).unref()),
      ]),
      rename(partial, o.out).then(() => bundleAttestation(o.out)),
    ]);
    const doc = decodeAttestation(attestation);
    const pcr = (i: number): string => toHex(doc.pcrs.get(i) ?? new Uint8Array(0));
    return {
      bundle: { path: o.out, size: session.bundle.size, sha256: session.bundle.sha256 },
      subjects: session.subjects,
      source: {
        repository: source.repository ?? null,
        commit: source.commit,
        tree: source.tree,
        objectFormat: source.objectFormat,
        dirty: source.dirty,
        workdir,
      },
      nonce: toHex(nonce),
      image: { ...image, pcr0: pcr(0), pcr1: pcr(1), pcr2: pcr(2) },
      builderPcr3: pcr(3),
      builderKey: o.builderKey?.fingerprint ?? null,
      // From the evidence, not the backend's name: a nitro stand-in attests with the software NSM too.
      simulated: doc.cabundle[0] !== undefined && bytesEqual(doc.cabundle[0], SIMULATION_ROOT.der),
      isolation: enclave.isolation,
    };
  } finally {
    await rm(partial, { force: true });
    await prepared.cleanup();
    // Whatever happened, the enclave is single-use: it goes now.
    if (enclave) await enclave.stop();
    else await stopWhenStarted(starting);
  }
}

/**
 * Stops the enclave of a start nobody waits for any more, once it has started (a start given
 * the abort signal ends early by itself).
 */
async function stopWhenStarted(starting: Promise<Enclave> | undefined): Promise<void> {
  await starting?.then(
    (enc) => enc.stop(),
    () => undefined,
  );
}

/** Why the enclave ended, when a build failed (for callers that report it). */
export type { EnclaveExit };
