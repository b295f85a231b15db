/**
 * The build submission as the agent's intake reads it: multipart/form-data with the fields first
 * (`nonce`, `workdir`, `repository`, `config`) and the files after (`source`, `dependencies`),
 * streamed from disk with a Content-Length.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';

/** A build request. */
export interface BuildSubmission {
  /** The source archive (.tar.gz) to upload. */
  source: string;
  /** The dependency set (tar), or null. */
  dependencies: string | null;
  nonce: string;
  /** build.json text sent as the `config` field, or null to let the agent read the source's. */
  config: string | null;
  /** Directory of build.json in the source, where the agent builds (`.`: the root, not sent). */
  workdir: string;
  /** Repository URL the agent records as the source's, or null. */
  repository: string | null;
  /** The workflow's OIDC token (audience `tee-compile:<nonce>`), or null/absent. */
  oidcToken?: string | null;
}

/** Largest answer body read. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs a multipart/form-data body streamed from files, with a Content-Length. Built on
 * node:http rather than fetch so that an early answer (401, 413: the agent refuses before reading
 * the upload and closes) is read instead of being lost to the broken upload.
 */
export async function postMultipart(
  url: string,
  headers: Record<string, string>,
  sub: BuildSubmission,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const boundary = `----tee-compile-${randomBytes(12).toString('hex')}`;
  const parts: (Buffer | { file: string; size: number })[] = [];
  const field = (name: string, value: string): void => {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      ),
    );
  };
  const file = async (name: string, path: string, type: string): Promise<void> => {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${basename(path).replace(/"/g, '')}"\r\nContent-Type: ${type}\r\n\r\n`,
      ),
      { file: path, size: (await stat(path)).size },
      Buffer.from('\r\n'),
    );
  };
  // Fields first: the agent can refuse a bad nonce or config before the archive arrives.
  field('nonce', sub.nonce);
  if (sub.workdir !== '.') field('workdir', sub.workdir);
  if (sub.repository !== null) field('repository', sub.repository);
  if (sub.oidcToken != null) field('oidc_token', sub.oidcToken);
  if (sub.config !== null) field('config', sub.config);
  await file('source', sub.source, 'application/gzip');
  if (sub.dependencies !== null) await file('dependencies', sub.dependencies, 'application/x-tar');
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const length = parts.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : p.size), 0);
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    let answered = false;
    const req = send(u, {
      method: 'POST',
      signal,
      headers: {
        ...headers,
        Accept: 'application/json',
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': String(length),
      },
    });
    req.on('response', (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n <= MAX_ANSWER_BYTES) chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (e) => reject(e));
      // An early answer ends the upload: the rest of the body would not be read.
      if ((res.statusCode ?? 0) >= 300) stream?.destroy();
    });
    req.on('error', (e) => {
      // A write that fails after the answer arrived (EPIPE once the agent closed) is not news.
      if (!answered) reject(e);
    });
    let stream: ReturnType<typeof createReadStream> | undefined;
    void (async () => {
      try {
        for (const p of parts) {
          if (answered || req.destroyed) break;
          if (Buffer.isBuffer(p)) {
            if (!req.write(p)) await drained(req);
            continue;
          }
          stream = createReadStream(p.file, { highWaterMark: 1 << 20 });
          for await (const c of stream as AsyncIterable<Buffer>) {
            if (answered || req.destroyed) break;
            if (!req.write(c)) await drained(req);
          }
        }
        if (!answered && !req.destroyed) req.end();
      } catch (e) {
        if (!answered) req.destroy(e as Error);
      }
    })();
  });
}

/**
 * Resolves when `req` takes more data, or when it has closed: a request that fails while the
 * upload waits ends the upload (and closes the file it was reading) instead of leaving it waiting.
 */
function drained(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}
