/**
 * The host side of the vsock bridge. Node cannot open AF_VSOCK sockets (its `net` module knows
 * TCP and UNIX sockets only, and libuv refuses to adopt a vsock descriptor; nitro-brief §5.3), so
 * every connection is a child process whose stdin/stdout is the byte stream to the enclave, by
 * default `socat - VSOCK-CONNECT:<cid>:<port>` (socat 1.7.4 or later, nitro-brief §5.2). Inside the
 * enclave, socat listens on the vsock port and relays to the worker on 127.0.0.1:5000.
 *
 * {@link BridgeStream} makes the child's two pipes one Duplex: bytes written go to its stdin,
 * its stdout is read; ending the writable side closes its stdin (half-close, which socat passes
 * on); a bridge that fails (non-zero exit) destroys the stream with its stderr; destroying the
 * stream stops the bridge. It also has the few socket methods the WebSocket client calls.
 */
import type { ChildProcessByStdio } from 'node:child_process';
import { spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';

/** Characters of the bridge's stderr kept for errors. */
const STDERR_TAIL_CHARS = 1000;
/** Bytes of a probe answer read. */
const PROBE_MAX_BYTES = 512;

/** The bridge command for one enclave: `{cid}` and `{port}` replaced in every argument. */
export function bridgeArgv(template: readonly string[], cid: number, port: number): string[] {
  return template.map((a) => a.replaceAll('{cid}', String(cid)).replaceAll('{port}', String(port)));
}

/** How a bridge process ended. */
export interface BridgeExit {
  code: number | null;
  signal: string | null;
  stderr: string;
}

type BridgeChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** One bridge process as a Duplex (see the module comment). */
export class BridgeStream extends Duplex {
  /** Resolves when the bridge process has ended. */
  readonly ended: Promise<BridgeExit>;
  private stderrTail = '';

  constructor(private readonly child: BridgeChild) {
    super({ allowHalfOpen: true });
    child.stdout.on('data', (b: Buffer) => {
      if (!this.push(b)) child.stdout.pause();
    });
    child.stdout.on('end', () => this.push(null));
    child.stdout.on('error', (e) => this.destroy(e));
    // Writing to a bridge that has exited fails with EPIPE; the write callback reports it.
    child.stdin.on('error', () => undefined);
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL_CHARS);
    });
    this.ended = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        const exit = { code, signal, stderr: this.stderrTail.trim() };
        if (code !== 0 && code !== null && !this.destroyed)
          this.destroy(
            new Error(
              `the vsock bridge exited with status ${code}${exit.stderr ? `: ${exit.stderr}` : ''}`,
            ),
          );
        resolve(exit);
      });
    });
  }

  /** The bridge's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.child.stdin.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin.end(() => callback());
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    callback(err);
  }

  // Socket methods the HTTP and WebSocket clients call on their transport: a pipe has no Nagle
  // algorithm, keep-alive or idle timer of its own.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** Starts a bridge; resolves once its process runs. */
export function openBridge(argv: string[], env?: NodeJS.ProcessEnv): Promise<BridgeStream> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: env ?? process.env,
    });
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      child.on('error', () => undefined);
      resolve(new BridgeStream(child));
    });
  });
}

/** What a probe found. */
export interface ProbeResult {
  /** The worker answered as a tee-compile worker does. */
  up: boolean;
  /** Its status line, or why there was none. */
  detail: string;
  /** The bridge command itself cannot run (not installed): trying again will not help. */
  unusable?: boolean;
}

/**
 * Asks the worker behind a fresh bridge whether it is up, without using it up: the worker is
 * single-use for WebSocket upgrades only, and answers a plain HTTP request with 426 and keeps
 * listening (src/protocol/listen.ts). Before the worker listens, the enclave's socat closes the
 * connection without a byte; before the enclave's vsock listener exists, the bridge fails.
 */
export async function probeWorker(
  argv: string[],
  env: NodeJS.ProcessEnv | undefined,
  timeoutMs: number,
): Promise<ProbeResult> {
  let bridge: BridgeStream;
  try {
    bridge = await openBridge(argv, env);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return {
      up: false,
      detail: `cannot start the bridge (${argv[0]}): ${(e as Error).message}`,
      unusable: code === 'ENOENT' || code === 'EACCES',
    };
  }
  return new Promise((resolve) => {
    let got = '';
    let error: string | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      bridge.destroy();
      const line = got.split('\r\n')[0] ?? '';
      if (/^HTTP\/1\.[01] 426\b/.test(line)) resolve({ up: true, detail: line });
      else if (line !== '') resolve({ up: false, detail: `answered '${line.slice(0, 100)}'` });
      else
        void bridge.ended.then((x) =>
          resolve({
            up: false,
            detail: error ?? (x.stderr || 'the connection closed without an answer'),
          }),
        );
    };
    const timer = setTimeout(finish, timeoutMs);
    bridge.setEncoding('latin1');
    bridge.on('data', (s: string) => {
      got += s;
      if (got.includes('\r\n') || got.length >= PROBE_MAX_BYTES) finish();
    });
    bridge.on('end', finish);
    bridge.on('error', (e) => {
      error = e.message;
      finish();
    });
    // Not ended: socat gives the other direction only 0.5 s once one side is at EOF (socat(1) -t).
    bridge.write('GET / HTTP/1.1\r\nHost: tee-compile-worker\r\nConnection: close\r\n\r\n');
  });
}
