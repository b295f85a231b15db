/**
 * A worker-side protocol endpoint on loopback TCP with a scripted build handler, and helpers to
 * make client inputs: the real protocol code on both ends, over a real socket.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import type { ImageRef } from '../../../src/enclave/types.js';
import type {
  BuildHandler,
  BuildSubmission,
  ClientInput,
  InputName,
  ProtocolLimits,
  SessionOutcome,
} from '../../../src/protocol/index.js';
import {
  DEFAULT_WORKER_LIMITS,
  acceptOne,
  listenOnce,
  serveBuild,
} from '../../../src/protocol/index.js';

export const TEST_IMAGE: ImageRef = {
  name: 'tee-compile-test',
  version: '0.0.0',
  language: 'rust',
};

/** A worker endpoint listening on 127.0.0.1; `outcome` settles when its one session ends. */
export interface TestWorker {
  port: number;
  outcome: Promise<SessionOutcome>;
  /** The accepted WebSocket (to cut the connection from the worker's side). */
  socket: Promise<WebSocket>;
  dir: string;
  close(): Promise<void>;
}

/** Starts a worker endpoint serving one build with `handler`. */
export async function startTestWorker(
  handler: BuildHandler,
  opts: { limits?: Partial<ProtocolLimits>; versions?: number[] } = {},
): Promise<TestWorker> {
  const dir = await mkdtemp(join(tmpdir(), 'tc-proto-'));
  const limits = { ...DEFAULT_WORKER_LIMITS, ...opts.limits };
  const server = await listenOnce('127.0.0.1', 0);
  const port = (server.address() as AddressInfo).port;
  const socket = acceptOne(server, { maxPayload: limits.maxFrameBytes, timeoutMs: 60_000 });
  const outcome = socket.then((ws) =>
    serveBuild(
      ws,
      {
        worker: 'test-worker/0',
        image: TEST_IMAGE,
        limits,
        ...(opts.versions ? { versions: opts.versions } : {}),
      },
      handler,
    ),
  );
  return {
    port,
    outcome,
    socket,
    dir,
    close: async () => {
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Connects a TCP socket to the endpoint. */
export function connectTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** An input made of bytes in memory, sent in chunks of `chunk`. */
export function bytesInput(bytes: Uint8Array, chunk = 64 * 1024): ClientInput {
  return {
    size: bytes.length,
    open: async function* () {
      for (let off = 0; off < bytes.length; off += chunk) yield bytes.subarray(off, off + chunk);
    },
  };
}

/** An input of `size` pseudo-random bytes generated on the fly (for large transfers). */
export function generatedInput(
  size: number,
  seed = 1,
  chunk = 1024 * 1024,
): ClientInput & { sha256(): string } {
  const block = Buffer.alloc(chunk);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < chunk; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block.writeUInt32LE(x >>> 0, i);
  }
  return {
    size,
    open: async function* () {
      for (let off = 0; off < size; off += chunk)
        yield block.subarray(0, Math.min(chunk, size - off));
    },
    sha256: () => {
      const h = createHash('sha256');
      for (let off = 0; off < size; off += chunk)
        h.update(block.subarray(0, Math.min(chunk, size - off)));
      return h.digest('hex');
    },
  };
}

/** A submission with the given inputs (defaults: small fixed bytes). */
export function submission(inputs: Partial<Record<InputName, ClientInput>> = {}): BuildSubmission {
  return {
    nonce: new Uint8Array(32).fill(7),
    workdir: '.',
    source: {
      repository: null,
      commit: 'a'.repeat(40),
      tree: 'b'.repeat(40),
      objectFormat: 'sha1',
    },
    inputs: {
      config: inputs.config ?? bytesInput(Buffer.from('{"language":"rust"}')),
      commit: inputs.commit ?? bytesInput(Buffer.from('tree bbbb\n')),
      source: inputs.source ?? bytesInput(Buffer.alloc(1000, 1)),
      deps: inputs.deps ?? bytesInput(new Uint8Array(0)),
    },
  };
}

/** Writes `bytes` to a file in `dir` and returns its path (a bundle to send). */
export async function bundleFile(dir: string, bytes: Uint8Array): Promise<string> {
  const f = join(dir, 'bundle.tar.gz');
  await writeFile(f, bytes);
  return f;
}

/** SHA-256 hex of bytes. */
export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
