/**
 * The bundle's gzip layer, read strictly: one member (RFC 1952 §2.2), the writer's fixed 10-byte
 * header, raw deflate data, the CRC-32 and length trailer, and nothing after it. Our own framing
 * instead of a library's gunzip because those differ exactly where an attacker wants them to:
 * Node's zlib (and its DecompressionStream) reads on into a second member and skips trailing
 * zeros, browsers refuse both, `gzip -d` decompresses every member. Only the deflate data is
 * handed to an inflater: on Node, zlib (found at run time, so that nothing Node-only is imported),
 * which reports how many input bytes the deflate stream used; elsewhere DecompressionStream
 * ('deflate-raw'), which the Compression Streams spec makes refuse data after the stream's end (a
 * runtime that does not is refused to run on, see `strictWebInflate`). Attacker-controlled input.
 */
import { ArchiveError } from '../archive/index.js';
import { fromReadable } from '../util/bytes.js';
import { crc32, nodeBuiltin } from '../util/stream-digest.js';
import { BundleError } from './errors.js';

/**
 * The header both bundle writers emit: ID1 ID2, CM 8 (deflate), FLG 0 (no FTEXT, FHCRC, FEXTRA,
 * FNAME, FCOMMENT), MTIME 0, XFL 2 (fixed whatever the level: informational), OS 3 (Unix).
 */
export const BUNDLE_GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3);

const TRAILER = 8;

function noncanonical(what: string): BundleError {
  return new BundleError('BUNDLE_NONCANONICAL', `gzip: ${what}`, { path: 'gzip' });
}

const FLAGS = [
  'FTEXT',
  'FHCRC',
  'FEXTRA',
  'FNAME',
  'FCOMMENT',
  'reserved bit 5',
  'reserved bit 6',
  'reserved bit 7',
];

/** What is wrong with a gzip header, or null when it is the writer's. */
function headerProblem(h: Uint8Array): string | null {
  if (h.length < BUNDLE_GZIP_HEADER.length) return 'truncated header';
  if (h[2] !== 8) return `compression method ${h[2]}, the writer uses 8 (deflate)`;
  if (h[3] !== 0) {
    const set = FLAGS.filter((_, i) => (h[3]! >> i) & 1);
    return `header flags ${set.join(', ')} set, the writer sets none`;
  }
  if (h[4] !== 0 || h[5] !== 0 || h[6] !== 0 || h[7] !== 0)
    return 'MTIME is set, the writer writes 0';
  if (h[8] !== 2) return `XFL is ${h[8]}, the writer writes 2`;
  if (h[9] !== 3) return `OS is ${h[9]}, the writer writes 3 (Unix)`;
  return null;
}

/** Everything but the last `keep` bytes, which are returned by `tail()` once the source ended. */
class HoldBack {
  private held = new Uint8Array(0);
  constructor(private readonly keep: number) {}
  /** The part of `chunk` (after what was held) that can be passed on now. */
  push(chunk: Uint8Array): Uint8Array {
    const all = this.held.length === 0 ? chunk : concat(this.held, chunk);
    const cut = Math.max(0, all.length - this.keep);
    this.held = all.slice(cut);
    return all.subarray(0, cut);
  }
  tail(): Uint8Array {
    return this.held;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** An inflater of raw deflate data that tells whether the stream ended exactly at its input's end. */
type Inflate = (input: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array, void>;

interface NodeZlib {
  createInflateRaw(opts: { chunkSize: number }): NodeInflate;
}
interface NodeInflate extends AsyncIterable<Uint8Array> {
  bytesWritten: number;
  destroyed: boolean;
  write(c: Uint8Array): boolean;
  end(): void;
  destroy(): void;
  once(ev: 'drain' | 'close' | 'error', f: () => void): void;
  removeListener(ev: string, f: () => void): void;
}

const zlib = nodeBuiltin<NodeZlib>('node:zlib');

function trailing(): BundleError {
  return noncanonical(
    'data after the end of the deflate stream (a second gzip member, or bytes appended)',
  );
}

async function* nodeInflate(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void> {
  const inf = zlib!.createInflateRaw({ chunkSize: 256 * 1024 });
  let fed = 0;
  let pumpError: unknown;
  const wait = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        inf.removeListener('drain', done);
        inf.removeListener('close', done);
        resolve();
      };
      inf.once('drain', done);
      inf.once('close', done);
    });
  const pump = (async () => {
    try {
      for await (const c of input) {
        if (inf.destroyed) return;
        fed += c.length;
        if (!inf.write(c)) await wait();
      }
      if (!inf.destroyed) inf.end();
    } catch (e) {
      pumpError = e;
      inf.destroy();
    }
  })();
  let ended = false;
  try {
    // Node gives Buffers: the same bytes as plain views, as every other source gives them.
    for await (const c of inf) yield new Uint8Array(c.buffer, c.byteOffset, c.byteLength);
    ended = true;
  } catch (e) {
    if (pumpError === undefined) throw corrupt(e);
  } finally {
    if (!ended) inf.destroy();
    await pump;
  }
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the source's own error, as thrown
  if (pumpError !== undefined) throw pumpError;
  if (inf.bytesWritten !== fed) throw trailing();
}

let webChecked: Promise<void> | undefined;

/**
 * Refuses to run on a DecompressionStream that accepts data after the end of a deflate stream
 * (Node's own, before 20.16, has no zlib to fall back on here): there the single-member rule
 * could not be enforced. A fault of the runtime, not of a bundle: a plain Error.
 */
async function strictWebInflate(): Promise<void> {
  webChecked ??= (async () => {
    // A stored empty final block, then one byte of junk.
    const probe = Uint8Array.of(0x01, 0x00, 0x00, 0xff, 0xff, 0x00);
    const ds = new DecompressionStream('deflate-raw');
    const w = ds.writable.getWriter();
    void w
      .write(probe)
      .then(() => w.close())
      .catch(() => undefined);
    try {
      for await (const _ of fromReadable(ds.readable)) {
        /* drain */
      }
    } catch {
      return;
    }
    throw new Error(
      'this runtime decompresses past the end of a deflate stream: bundles cannot be read strictly here (use Node >= 20.16 or a current browser)',
    );
  })();
  return webChecked;
}

async function* webInflate(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void> {
  await strictWebInflate();
  const ds = new DecompressionStream('deflate-raw');
  const writer = ds.writable.getWriter();
  let pumpError: unknown;
  const pump = (async () => {
    try {
      for await (const c of input) await writer.write(c as Uint8Array<ArrayBuffer>);
      await writer.close();
    } catch (e) {
      pumpError = e;
      await writer.abort(e).catch(() => undefined);
    }
  })();
  try {
    for await (const c of fromReadable(ds.readable)) yield c;
  } catch (e) {
    if (pumpError === undefined) throw corrupt(e);
  } finally {
    await ds.readable.cancel().catch(() => undefined);
    await pump;
  }
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the source's own error, as thrown
  if (pumpError !== undefined && !(pumpError instanceof TypeError)) throw pumpError;
}

function corrupt(e: unknown): ArchiveError {
  if (e instanceof ArchiveError || e instanceof BundleError) return e as ArchiveError;
  return new ArchiveError(
    'ARCHIVE_MALFORMED',
    `corrupt or truncated gzip data: ${(e as Error).message}`,
    { cause: e },
  );
}

const inflate: Inflate = zlib !== undefined ? nodeInflate : webInflate;

/**
 * Decompresses a bundle's gzip stream, refusing anything its writer would not have written (see
 * the module comment). Refusals: BUNDLE_NONCANONICAL (header, second member, appended data,
 * trailer), ARCHIVE_MALFORMED (corrupt or truncated deflate data).
 */
export async function* gunzipCanonical(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void> {
  const hold = new HoldBack(TRAILER);
  const it = source[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  let sourceDone = false;
  try {
    while (head.length < BUNDLE_GZIP_HEADER.length) {
      const r = await it.next();
      if (r.done === true) {
        sourceDone = true;
        break;
      }
      head = concat(head, r.value);
    }
    if (head.length === 0) throw new ArchiveError('ARCHIVE_MALFORMED', 'the bundle is empty');
    if (head[0] !== 0x1f || head[1] !== 0x8b)
      throw new ArchiveError(
        'ARCHIVE_MALFORMED',
        'not a gzip stream (a bundle is the .tar.gz its writer made, not a plain tar)',
      );
    const problem = headerProblem(head);
    if (problem !== null) throw noncanonical(problem);
    const first = head.subarray(BUNDLE_GZIP_HEADER.length);
    async function* body(): AsyncGenerator<Uint8Array> {
      const now = hold.push(first);
      if (now.length > 0) yield now;
      while (!sourceDone) {
        const r = await it.next();
        if (r.done === true) {
          sourceDone = true;
          return;
        }
        const c = hold.push(r.value);
        if (c.length > 0) yield c;
      }
    }
    let crc = 0;
    let size = 0;
    for await (const c of inflate(body())) {
      crc = crc32(c, crc);
      size += c.length;
      yield c;
    }
    const t = hold.tail();
    if (!sourceDone || t.length < TRAILER)
      throw new ArchiveError('ARCHIVE_MALFORMED', 'gzip data truncated (no trailer)');
    const dv = new DataView(t.buffer, t.byteOffset, TRAILER);
    if (dv.getUint32(0, true) !== crc)
      throw new ArchiveError('ARCHIVE_MALFORMED', 'gzip CRC-32 does not match the data');
    if (dv.getUint32(4, true) !== size % 2 ** 32)
      throw new ArchiveError('ARCHIVE_MALFORMED', 'gzip length does not match the data');
  } finally {
    if (!sourceDone) await it.return?.()?.catch(() => undefined);
  }
}
