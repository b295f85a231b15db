/**
 * gzip decompression with a bound on the output (decompression bombs), over Web streams so that it
 * runs in browsers as well as Node. Plain (uncompressed) input passes through unchanged.
 */
import { fromReadable } from '../util/bytes.js';
import { ArchiveError } from './errors.js';

/** True when the bytes start with the gzip magic number (RFC 1952 §2.3.1). */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Decompresses a gzip stream, refusing more than `maxBytes` of output. If the input does not start
 * with the gzip magic, it is passed through (still bounded).
 */
export async function* gunzipBounded(
  source: AsyncIterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const next = async (): Promise<IteratorResult<Uint8Array>> => {
    const r = await it.next();
    if (r.done === true) ended = true;
    return r;
  };
  try {
    yield* gunzipFrom(next, maxBytes);
  } finally {
    // The consumer stopped (a refusal downstream) or decompression failed: close the source so
    // that nothing more of it is read.
    if (!ended) await it.return?.()?.catch(() => undefined);
  }
}

async function* gunzipFrom(
  next: () => Promise<IteratorResult<Uint8Array>>,
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  let first = await next();
  while (!first.done && first.value.length === 0) first = await next();
  if (first.done) return;
  const head = first.value;
  async function* all(): AsyncGenerator<Uint8Array> {
    yield head;
    for (;;) {
      const r = await next();
      if (r.done) return;
      yield r.value;
    }
  }
  let out = 0;
  const check = (c: Uint8Array): Uint8Array => {
    out += c.length;
    if (out > maxBytes)
      throw new ArchiveError('ARCHIVE_TOO_LARGE', `decompressed data exceeds ${maxBytes} bytes`);
    return c;
  };
  if (!isGzip(head)) {
    for await (const c of all()) yield check(c);
    return;
  }
  const ds = new DecompressionStream('gzip');
  const writer = ds.writable.getWriter();
  let pumpError: unknown;
  const pump = (async () => {
    try {
      for await (const c of all()) {
        await writer.write(c as Uint8Array<ArrayBuffer>);
      }
      await writer.close();
    } catch (e) {
      pumpError = e;
      await writer.abort(e).catch(() => undefined);
    }
  })();
  try {
    for await (const c of fromReadable(ds.readable)) yield check(c);
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError('ARCHIVE_MALFORMED', `corrupt gzip data: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    // If the consumer stopped early, cancelling the readable side unblocks the pump.
    await ds.readable.cancel().catch(() => undefined);
    await pump;
  }
  if (pumpError !== undefined) {
    if (pumpError instanceof ArchiveError) throw pumpError;
    throw new ArchiveError(
      'ARCHIVE_MALFORMED',
      `corrupt gzip data: ${(pumpError as Error).message}`,
      { cause: pumpError },
    );
  }
}
