/**
 * One `git cat-file --batch` process, asked for blobs a group at a time: requests are written as
 * they become known and answers read in the same order (header, exact-size body, terminator).
 * The process starts on the first request and ends when the requests are closed and read, or on
 * `close()`. Node only.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { provenanceError } from '../errors.js';
import { firstLine, gitEnv } from '../exec.js';
import type { GitOptions } from './git.js';

/**
 * Buffered reader over `git cat-file --batch` output: header lines, then exact-size bodies.
 *
 * It starts reading at once. Node drains (`resume()`s, so discards) the output of a child that
 * has exited when nothing listens to it, and git answers a short list of requests and exits while
 * the work-tree files before the first answer are still being archived: an iterator created but
 * not yet asked for its first chunk does not listen, and the answers were lost ("ended early").
 */
class BatchReader {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private readonly it: AsyncIterator<Buffer>;
  /** The next chunk, asked for ahead (see the class comment). */
  private ahead: Promise<IteratorResult<Buffer>>;

  constructor(stream: AsyncIterable<Buffer>) {
    this.it = stream[Symbol.asyncIterator]();
    this.ahead = this.it.next();
    // Awaited in more(); a failure before then must not be an unhandled rejection.
    this.ahead.catch(() => undefined);
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.ahead;
    if (r.done) {
      this.ended = true;
      return false;
    }
    this.ahead = this.it.next();
    this.ahead.catch(() => undefined);
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  async line(): Promise<string> {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl >= 0) {
        const l = this.buf.subarray(0, nl).toString('latin1');
        this.buf = this.buf.subarray(nl + 1);
        return l;
      }
      if (!(await this.more())) throw provenanceError('GIT_FAILED', 'git cat-file ended early');
    }
  }

  async *body(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.more())) {
        throw provenanceError('GIT_FAILED', 'git cat-file ended in the middle of an object');
      }
      const take = Math.min(left, this.buf.length);
      const chunk = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield chunk;
    }
  }
}

export class BlobReader {
  private child: ChildProcessWithoutNullStreams | undefined;
  private reader: BatchReader | undefined;
  private exited: Promise<unknown> | undefined;
  private stderr = '';
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly opts: GitOptions = {},
  ) {}

  /** Asks for `oids`; their answers follow those of earlier requests. */
  ask(oids: readonly string[]): void {
    if (oids.length === 0) return;
    if (this.closed) throw new Error('BlobReader: asked after end()');
    if (this.child === undefined) {
      const child = spawn(this.opts.git ?? 'git', ['cat-file', '--batch'], {
        cwd: this.dir,
        env: gitEnv(this.opts.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stderr.on('data', (b: Buffer) => (this.stderr += b.toString('utf8')));
      this.exited = new Promise((resolve) => child.on('close', resolve));
      child.stdin.on('error', () => undefined);
      // Listening before git can answer (see BatchReader).
      this.reader = new BatchReader(child.stdout as AsyncIterable<Buffer>);
      this.child = child;
    }
    this.child.stdin.write(oids.map((o) => `${o}\n`).join(''));
  }

  /** No more requests: git exits once it has answered. */
  end(): void {
    this.closed = true;
    this.child?.stdin.end();
  }

  /** The next answer's size, checked to be blob `oid` of `size` bytes; its body follows. */
  async next(oid: string, size: number, path: string): Promise<number> {
    const header = await this.read().line();
    const m = /^([0-9a-f]+) blob ([0-9]+)$/.exec(header);
    if (m === null || m[1] !== oid || Number(m[2]) !== size) {
      throw provenanceError(
        'GIT_FAILED',
        `git cat-file: unexpected answer ${JSON.stringify(header.slice(0, 100))} for ${path} (blob ${oid}, ${size} bytes)`,
      );
    }
    return size;
  }

  /** The body of the answer `next` read, `n` bytes, then its terminator. */
  async *body(n: number): AsyncGenerator<Uint8Array> {
    yield* this.read().body(n);
    if ((await this.read().line()) !== '')
      throw provenanceError('GIT_FAILED', 'git cat-file: missing object terminator');
  }

  /** The whole next answer. */
  async all(oid: string, size: number, path: string): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const c of this.body(await this.next(oid, size, path))) parts.push(c);
    return Buffer.concat(parts);
  }

  /**
   * After a failure: stops git, then adds what it said to a GIT_FAILED error (once git has
   * exited, all it said is in). Returns the error, to be thrown.
   */
  async failed(err: unknown): Promise<unknown> {
    await this.close();
    if (
      this.stderr !== '' &&
      err instanceof Error &&
      (err as { code?: unknown }).code === 'GIT_FAILED'
    )
      err.message += ` (${firstLine(this.stderr)})`;
    return err;
  }

  /** Stops git (a completed read leaves nothing to stop) and waits for it. */
  async close(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.stdout.destroy();
    if (child.exitCode === null) child.kill();
    await this.exited;
  }

  private read(): BatchReader {
    if (this.reader === undefined) throw new Error('BlobReader: nothing was asked');
    return this.reader;
  }
}
