/**
 * Drives one real sandboxed worker with inputs a test controls: prepared from a real repository
 * by the client code, then optionally tampered with, sent with the real protocol client. Returns
 * what the client saw and how the enclave ended.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileChunks } from '../../../src/archive/node.js';
import type { PreparedInputs } from '../../../src/client/inputs.js';
import { prepareInputs } from '../../../src/client/inputs.js';
import type { Enclave, EnclaveExit } from '../../../src/enclave/types.js';
import type { LocalBackend } from '../../../src/enclave/local.js';
import type {
  BuildSubmission,
  ClientInput,
  SessionEvent,
  SessionResult,
  SubmitOptions,
} from '../../../src/protocol/index.js';
import { submitBuild } from '../../../src/protocol/index.js';

export function fileInput(file: string, size: number): ClientInput {
  return { size, open: () => fileChunks(file) };
}

export function bytesOf(b: Uint8Array): ClientInput {
  return {
    size: b.length,
    open: async function* () {
      if (b.length) yield b;
    },
  };
}

/** The submission the client would send for `p`. */
export function submissionOf(
  p: PreparedInputs,
  nonce = new Uint8Array(32).fill(9),
): BuildSubmission {
  return {
    nonce,
    workdir: p.workdir,
    source: {
      repository: p.source.repository ?? null,
      commit: p.source.commit,
      tree: p.source.tree,
      objectFormat: p.source.objectFormat,
    },
    inputs: {
      config: bytesOf(p.configBytes),
      commit: bytesOf(p.source.commitObject ?? new Uint8Array(0)),
      source: p.sourceArchive,
      deps: p.depsArchive
        ? fileInput(p.depsArchive.file, p.depsArchive.size)
        : bytesOf(new Uint8Array(0)),
    },
  };
}

export interface SessionRun {
  result?: SessionResult;
  error?: unknown;
  events: SessionEvent[];
  exit: EnclaveExit;
  enclave: Enclave;
  bundleFile: string;
  cleanup(): Promise<void>;
}

/** Prepares the inputs of the project in `dir` (with a private dependency cache). */
export async function prepare(dir: string, cacheDir: string): Promise<PreparedInputs> {
  return prepareInputs({ dir, cacheDir });
}

/**
 * Starts a sandboxed worker for `language`, sends `submission`, and waits for the enclave to end.
 * `during` is called with each event and the enclave (to kill it, drop the stream, …).
 */
export async function runSession(
  backend: LocalBackend,
  language: 'rust' | 'node' | 'go',
  submission: BuildSubmission,
  o: {
    memoryMiB?: number;
    timeoutMs?: number;
    during?: (e: SessionEvent, enclave: Enclave, stream: Duplex) => void;
    submit?: Partial<SubmitOptions>;
  } = {},
): Promise<SessionRun> {
  const images = { rust: 'rust', node: 'node', go: 'go' } as const;
  const enclave = await backend.start({
    buildId: randomUUID(),
    image: { name: images[language], version: '0.1.0', language },
    cpus: 2,
    memoryMiB: o.memoryMiB ?? 2048,
    timeoutMs: o.timeoutMs ?? 120_000,
  });
  const dir = await mkdtemp(join(tmpdir(), 'tc-session-'));
  const bundleFile = join(dir, 'bundle.tar.gz');
  const events: SessionEvent[] = [];
  const stream = await enclave.connect();
  const run: Partial<SessionRun> = { events, enclave, bundleFile };
  try {
    run.result = await submitBuild(stream, submission, {
      bundleFile,
      ...o.submit,
      onEvent: (e) => {
        events.push(e);
        o.during?.(e, enclave, stream);
      },
    });
  } catch (e) {
    run.error = e;
  }
  const exit = await Promise.race([
    enclave.exited,
    new Promise<EnclaveExit>((r) =>
      setTimeout(() => void enclave.stop().then(() => r(enclave.exited)), 15_000).unref(),
    ),
  ]);
  await enclave.stop();
  return { ...(run as SessionRun), exit, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
