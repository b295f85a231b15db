/**
 * The NSM transport of a real enclave: Node cannot issue the `/dev/nsm` ioctl itself, so each
 * request goes through a small helper (`tee-nsm`, enclave/nsm-helper/) that reads one request's
 * CBOR on stdin, performs the ioctl, and writes the response's CBOR on stdout.
 */
import { spawn } from 'node:child_process';
import type { NsmTransport } from '../attestation/index.js';
import { MAX_NSM_REQUEST_BYTES, MAX_NSM_RESPONSE_BYTES } from '../attestation/index.js';
import { NsmDeviceError } from './errors.js';

/** Meanings of the helper's exit statuses (enclave/nsm-helper/tee-nsm.c). */
const HELPER_EXIT: Record<number, string> = {
  2: 'usage error',
  3: 'no NSM device (/dev/nsm is missing: not inside a Nitro Enclave, or nsm.ko not loaded)',
  4: '/dev/nsm could not be opened',
  5: 'request too large',
  6: 'the ioctl failed',
  7: 'the request could not be read',
  8: 'the response could not be written',
  9: 'the driver reported a response larger than its buffer',
};

/** How long one request may take; the device answers in milliseconds. */
export const NSM_HELPER_TIMEOUT_MS = 30_000;

/** Talks to the NSM through the helper at `helperPath`, one process per request. */
export class HelperNsmTransport implements NsmTransport {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly helperPath: string,
    private readonly timeoutMs = NSM_HELPER_TIMEOUT_MS,
  ) {}

  /** Sends one CBOR request; requests are serialised, as the driver handles one at a time. */
  request(cbor: Uint8Array): Promise<Uint8Array> {
    if (cbor.length > MAX_NSM_REQUEST_BYTES)
      return Promise.reject(
        new RangeError(`NSM request of ${cbor.length} bytes exceeds ${MAX_NSM_REQUEST_BYTES}`),
      );
    const next = this.queue.then(() => this.once(cbor));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private once(cbor: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.helperPath, [], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let failed: NsmDeviceError | undefined;
      const fail = (e: NsmDeviceError): void => {
        failed ??= e;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(
        () =>
          fail(
            new NsmDeviceError(
              'NSM_HELPER_TIMEOUT',
              `the NSM helper did not answer within ${this.timeoutMs / 1000} s`,
            ),
          ),
        this.timeoutMs,
      );
      child.stdout.on('data', (d: Buffer) => {
        outBytes += d.length;
        if (outBytes > MAX_NSM_RESPONSE_BYTES)
          fail(
            new NsmDeviceError(
              'NSM_HELPER_OUTPUT',
              `the NSM helper wrote more than ${MAX_NSM_RESPONSE_BYTES} bytes`,
            ),
          );
        else out.push(d);
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        if (err.length < 4096) err += d;
      });
      // A helper that exits without reading its stdin makes the write fail with EPIPE; the exit
      // status says more, so the write error itself is not reported.
      child.stdin.on('error', () => undefined);
      child.on('error', (e) =>
        fail(
          new NsmDeviceError(
            'NSM_HELPER_FAILED',
            `cannot run the NSM helper ${this.helperPath}: ${e.message}`,
            { cause: e },
          ),
        ),
      );
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failed) return reject(failed);
        if (code !== 0)
          return reject(
            new NsmDeviceError(
              'NSM_HELPER_FAILED',
              `the NSM helper ${signal ? `was killed by ${signal}` : `exited with status ${code}${HELPER_EXIT[code ?? -1] ? ` (${HELPER_EXIT[code ?? -1]})` : ''}`}${err.trim() ? `: ${err.trim()}` : ''}`,
            ),
          );
        if (outBytes === 0)
          return reject(
            new NsmDeviceError('NSM_HELPER_OUTPUT', 'the NSM helper wrote no response'),
          );
        resolve(new Uint8Array(Buffer.concat(out)));
      });
      child.stdin.end(Buffer.from(cbor.buffer, cbor.byteOffset, cbor.byteLength));
    });
  }
}
