import { ArchiveError } from './errors.js';

/**
 * Pull-based reader over an async stream of byte chunks: read exact byte counts, or stream a
 * number of bytes chunk by chunk, without copying more than needed. No Node APIs.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Uint8Array = new Uint8Array(0);
  private done = false;
  /** Bytes consumed so far. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.buf.length === 0 && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = r.value;
    }
    return this.buf.length > 0;
  }

  /**
   * The next `n` bytes when they are already buffered, else undefined (nothing consumed): lets a
   * parser take a header or skip padding without a promise per call.
   */
  takeBuffered(n: number): Uint8Array | undefined {
    if (this.buf.length < n) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.position += n;
    return out;
  }

  /** Reads exactly `n` bytes, or returns null at a clean end of stream (nothing read). */
  async readExact(n: number, what: string): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    if (this.buf.length >= n) {
      const out = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      this.position += n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      if (!(await this.fill()))
        throw new ArchiveError('ARCHIVE_MALFORMED', `archive truncated in ${what}`);
      const take = Math.min(n - off, this.buf.length);
      out.set(this.buf.subarray(0, take), off);
      this.buf = this.buf.subarray(take);
      off += take;
    }
    this.position += n;
    return out;
  }

  /** Yields exactly `n` bytes as they arrive. */
  async *stream(n: number, what: string): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill()))
        throw new ArchiveError('ARCHIVE_MALFORMED', `archive truncated in ${what}`);
      const take = Math.min(left, this.buf.length);
      const chunk = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      this.position += take;
      yield chunk;
    }
  }

  /** Skips `n` bytes. */
  async skip(n: number, what: string): Promise<void> {
    for await (const _ of this.stream(n, what)) {
      /* discard */
    }
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /**
   * Stops reading and closes the source (a generator's `finally` runs, a Node stream is
   * destroyed), so that a refused archive is not read on.
   */
  async close(): Promise<void> {
    this.buf = new Uint8Array(0);
    if (this.done) return;
    this.done = true;
    await this.it.return?.();
  }

  /** Yields whatever is left. */
  async *rest(): AsyncGenerator<Uint8Array> {
    while (await this.fill()) {
      const c = this.buf;
      this.buf = new Uint8Array(0);
      this.position += c.length;
      yield c;
    }
  }
}
