/**
 * Byte and byte-stream helpers shared by every module. Pure (Web APIs only), so that the verify
 * path can use them in a browser.
 */

/** Bytewise comparison (memcmp order), as git and our sort orders use. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const utf8Encoder = new TextEncoder();

/**
 * Compares strings by their UTF-8 bytes (what `LC_ALL=C sort` gives), not by UTF-16 code units:
 * the order of tar members, bundle artifacts, provenance subjects and Go's dirhash.
 */
export function compareUtf8(a: string, b: string): number {
  return compareBytes(utf8Encoder.encode(a), utf8Encoder.encode(b));
}

/** One new buffer holding `parts` back to back. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Collects a stream into one buffer (a single chunk is returned as it is, without a copy). */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return parts.length === 1 ? parts[0]! : concatBytes(parts);
}

/** A single buffer as an async stream of chunks (bounded chunk size keeps consumers incremental). */
export async function* chunksOf(bytes: Uint8Array, chunk = 1 << 20): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < bytes.length; off += chunk) yield bytes.subarray(off, off + chunk);
}

/**
 * The chunks of a Web `ReadableStream` as an async generator. The reader's lock is released when
 * the consumer stops early, so that the stream can still be cancelled.
 */
export async function* fromReadable(rs: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = rs.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Web Crypto takes views of an ArrayBuffer (not a SharedArrayBuffer); copies in that rare case. */
export function bufferSource(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u.buffer instanceof ArrayBuffer ? (u as Uint8Array<ArrayBuffer>) : new Uint8Array(u);
}
