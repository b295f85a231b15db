/**
 * One gzip member compressed on several cores, as pigz writes it: the input is cut into fixed
 * blocks, each deflated on its own (in libuv's thread pool) with the 32 KiB before it as the
 * preset dictionary and ended with a sync flush (an empty stored block), the last one with the
 * final block. The concatenation is one ordinary deflate stream (RFC 1951), so every reader
 * (gzip, GNU tar, zlib, browsers' DecompressionStream, the bundle's strict reader) reads it as
 * any other; it is a little larger than one zlib stream (the flushes, and matches do not reach
 * back past a block's dictionary).
 *
 * Deterministic: the bytes depend on the input, the level and the block size only, never on the
 * number of cores or on timing. Node-only.
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { constants, deflateRaw } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
import { crc32 } from '../util/stream-digest.js';

/** Uncompressed bytes per block: fixed, since it is part of the output. */
export const GZIP_BLOCK_BYTES = 1024 * 1024;
/** The deflate window: the dictionary each block gets from the one before. */
const WINDOW = 32 * 1024;

/** Room past a block's length for its deflated form (zlib's deflateBound adds under 0.1 %). */
const OUTPUT_SLACK = 64 * 1024;

function deflateBlock(data: Buffer, opts: ZlibOptions): Promise<Buffer> {
  // One output buffer the size of the block: zlib's default of 16 KiB returns to the main thread
  // after every 16 KiB written (a Go binary's 1 MiB block: about 30 trips, each a fresh buffer),
  // and that work on the main thread was a quarter of the bundle's compression time.
  const o: ZlibOptions = { ...opts, chunkSize: data.length + OUTPUT_SLACK };
  return new Promise((resolve, reject) =>
    deflateRaw(data, o, (err, out) => (err ? reject(err) : resolve(out))),
  );
}

export interface GzipBlocksOptions {
  /** zlib level, 0..9. */
  level: number;
  /** The 10-byte member header to write (RFC 1952 §2.3). */
  header: Uint8Array;
  /**
   * Blocks deflated at once; default 4, libuv's thread pool (with fewer cores, the extra blocks
   * keep every core busy while the finished ones are written).
   */
  parallel?: number;
}

/**
 * A transform from uncompressed bytes to one gzip member (see the module comment). Blocks are
 * written in order; at most `parallel` are compressed at once and held in memory.
 */
export function gzipBlocks(o: GzipBlocksOptions): Transform {
  if (o.header.length !== 10) throw new RangeError('a gzip header is 10 bytes');
  const parallel = Math.max(1, o.parallel ?? 4);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** The last block cut, not yet sent: only the end of input tells whether it is the last. */
  let held: Buffer | undefined;
  let dictionary: Buffer | undefined;
  let crc = 0;
  let size = 0;
  const inFlight: Promise<Buffer>[] = [];
  let headerSent = false;

  const start = (block: Buffer, last: boolean): void => {
    const opts: ZlibOptions = {
      level: o.level,
      ...(dictionary !== undefined ? { dictionary } : {}),
      ...(last ? {} : { finishFlush: constants.Z_SYNC_FLUSH }),
    };
    const p = deflateBlock(block, opts);
    // Awaited in order later; a failure meanwhile must not be an unhandled rejection.
    p.catch(() => undefined);
    inFlight.push(p);
    dictionary = block.subarray(Math.max(0, block.length - WINDOW));
  };

  const accept = async (t: Transform, chunk: Buffer): Promise<void> => {
    if (!headerSent) {
      t.push(Buffer.from(o.header));
      headerSent = true;
    }
    crc = crc32(chunk, crc);
    size += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < GZIP_BLOCK_BYTES) return;
    // Joined once, then cut: a large chunk is not copied again for each block.
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    let off = 0;
    while (all.length - off >= GZIP_BLOCK_BYTES) {
      if (held !== undefined) start(held, false);
      held = all.subarray(off, off + GZIP_BLOCK_BYTES);
      off += GZIP_BLOCK_BYTES;
      // Keep `parallel` blocks compressing; write out the oldest when more wait.
      while (inFlight.length >= parallel) t.push(await inFlight.shift()!);
    }
    pending = [all.subarray(off)];
    pendingBytes = all.length - off;
  };
  const finish = async (t: Transform): Promise<void> => {
    if (!headerSent) t.push(Buffer.from(o.header));
    const rest = Buffer.concat(pending, pendingBytes);
    if (held !== undefined) {
      if (rest.length > 0) {
        start(held, false);
        start(rest, true);
      } else start(held, true);
    } else start(rest, true);
    while (inFlight.length > 0) t.push(await inFlight.shift()!);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(size >>> 0, 4);
    t.push(trailer);
  };
  return new Transform({
    // Backpressure counts compressed blocks, not bytes.
    readableHighWaterMark: 4,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      accept(this, chunk).then(
        () => cb(),
        (e: unknown) => cb(e as Error),
      );
    },
    flush(cb: TransformCallback) {
      finish(this).then(
        () => cb(),
        (e: unknown) => cb(e as Error),
      );
    },
  });
}
