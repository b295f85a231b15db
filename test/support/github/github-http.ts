/**
 * HTTP plumbing shared by the GitHub stand-ins: servers on loopback, bounded body reading, and a
 * request log tests can assert on.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Largest request body a stand-in reads (GitHub accepts release assets up to 2 GiB). */
export const MAX_STANDIN_BODY_BYTES = 512 * 1024 * 1024;

/** One request as a stand-in saw it. */
export interface LoggedRequest {
  server: string;
  method: string;
  path: string;
  status: number;
}

/** A started server and its base URL. */
export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Thrown by handlers to answer with a status and a body. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** Starts `handler` on 127.0.0.1 with a free port; logs every request into `log`. */
export async function listen(
  name: string,
  log: LoggedRequest[],
  handler: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>,
  onError: (res: ServerResponse, e: unknown) => void,
): Promise<Listening> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    res.on('finish', () =>
      log.push({
        server: name,
        method: req.method ?? 'GET',
        path: url.pathname + url.search,
        status: res.statusCode,
      }),
    );
    handler(req, res, url).catch((e: unknown) => {
      if (res.headersSent) res.destroy();
      else onError(res, e);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads a whole request body (bounded). */
export async function readBody(
  req: IncomingMessage,
  limit = MAX_STANDIN_BODY_BYTES,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new HttpFailure(413, { message: 'Request body too large' });
    parts.push(c);
  }
  return Buffer.concat(parts);
}

/** Signs `text` with the stand-in's key (for signed download and upload URLs). */
export class Signer {
  private readonly key = randomBytes(32);

  sign(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  check(text: string, sig: string): boolean {
    const want = Buffer.from(this.sign(text));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}
