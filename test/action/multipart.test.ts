/**
 * The streamed multipart upload when the agent drops the connection mid-upload without answering:
 * the call fails, and the upload stops, closing the file it was reading, instead of waiting for a
 * `drain` that never comes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readlink, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postMultipart } from '../../src/action/multipart.js';

let dir: string;
let source: string;
let server: Server;
let port: number;

/** Descriptors of this process open on `file`. */
async function openOn(file: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file) n++;
  }
  return n;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tc-multipart-'));
  source = join(dir, 'source.tar.gz');
  await writeFile(source, '');
  await truncate(source, 256 * 1024 * 1024);
  // Reads a little of the upload, then drops the connection without an answer.
  server = createServer((sock) => {
    let got = 0;
    sock.on('data', (c: Buffer) => {
      got += c.length;
      if (got > 256 * 1024) sock.destroy();
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe('postMultipart', () => {
  it('when the connection drops mid-upload, it rejects and the upload stops reading the file', async () => {
    const err = await postMultipart(
      `http://127.0.0.1:${port}/build`,
      {},
      {
        source,
        dependencies: null,
        nonce: 'ab'.repeat(32),
        config: null,
        workdir: '.',
        repository: null,
      },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    // The connection was reset under the upload (errors come from Node's realm, not jest's).
    expect(err).toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/) });
    // The upload loop notices the closed request and lets go of the file.
    for (let i = 0; i < 100 && (await openOn(source)) > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await openOn(source)).toBe(0);
  });
});
