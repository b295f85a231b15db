/** Downloading a file over HTTP(S) into a dependency set, checked against its expected digest. */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { bytesEqual } from '../../util/hex.js';
import { provenanceError } from '../errors.js';
import { exists } from './files.js';
import type { NodeHash } from './files.js';

/**
 * Runs `fn` over `items` with at most `limit` at once. After a failure no further item starts;
 * the first failure is thrown once those already running have ended (so that nothing still
 * writes when the caller cleans up).
 */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  });
  const ended = await Promise.allSettled(workers);
  const failure = ended.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
}

/**
 * Downloads `url` to `dest` (in `root`) through a temporary file, refusing more than `maxBytes`
 * and a body whose `algorithm` digest is not `expected` (DEPENDENCY_DIGEST_MISMATCH). An existing
 * `dest` is kept (the set is content-addressed).
 */
export async function downloadVerified(
  url: string,
  root: string,
  dest: string,
  algorithm: NodeHash,
  expected: Uint8Array,
  maxBytes: number,
  what: string,
): Promise<number> {
  const final = join(root, dest);
  if (await exists(final)) return 0;
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw provenanceError(
      'DEPENDENCY_FETCH_FAILED',
      `${what}: cannot fetch ${url}: ${(err as Error).message}`,
      what,
      err,
    );
  }
  if (!res.ok || res.body === null) {
    throw provenanceError(
      'DEPENDENCY_FETCH_FAILED',
      `${what}: ${url} answered HTTP ${res.status}`,
      what,
    );
  }
  const tmp = join(root, '.partial', randomBytes(8).toString('hex'));
  await mkdir(dirname(tmp), { recursive: true });
  const h = createHash(algorithm);
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) {
        cb(
          provenanceError(
            'DEPENDENCY_FETCH_FAILED',
            `${what}: ${url} is larger than ${maxBytes} bytes`,
            what,
          ),
        );
        return;
      }
      h.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(res.body as WebReadableStream<Uint8Array>),
      tap,
      createWriteStream(tmp, { flags: 'wx' }),
    );
    const got = h.digest();
    if (!bytesEqual(got, expected)) {
      throw provenanceError(
        'DEPENDENCY_DIGEST_MISMATCH',
        `${what}: ${url} has ${algorithm} ${got.toString('hex')}, the lockfile pins ${Buffer.from(expected).toString('hex')}`,
        what,
      );
    }
    await mkdir(dirname(final), { recursive: true });
    await rename(tmp, final);
    return size;
  } finally {
    await rm(tmp, { force: true });
  }
}
