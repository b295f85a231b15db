/**
 * A small image world for the `tee-compile image` tests: a repository root with one recipe, the
 * AWS boot blobs (test/fixtures/nitro-blobs) plus a stand-in kernel (the real bzImage cannot be
 * fetched here), and a loopback HTTP server that serves tarballs and .debs and records requests.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../temp.js';

export const BLOB_FIXTURES = fileURLToPath(new URL('../../fixtures/nitro-blobs/', import.meta.url));
/** Not a bzImage: a stand-in, since the real kernel cannot be fetched here. */
export const STANDIN_KERNEL = new TextEncoder().encode(
  'tee-compile test stand-in kernel: not a bzImage (the real one cannot be fetched here)\n',
);

export const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** A folder of boot blobs as `--blobs` takes it. */
export async function blobsDir(): Promise<string> {
  const dir = await tempDir('image-blobs-');
  for (const f of ['init', 'nsm.ko', 'cmdline'])
    await copyFile(join(BLOB_FIXTURES, f), join(dir, f));
  await writeFile(join(dir, 'bzImage'), STANDIN_KERNEL);
  return dir;
}

/** The `blobs` of a recipe for {@link blobsDir}. */
export function recipeBlobs(): Record<string, unknown> {
  return {
    commit: '2950b3699d81ad304df2458915688a552734833d',
    kernel: { file: 'bzImage', sha256: sha256(STANDIN_KERNEL) },
    kernelVersion: 'stand-in',
    init: {
      file: 'init',
      sha256: '755e650b732777b798cb9ec243ee402bef4826f789cf01a1e453bb724207c005',
      gitBlob: '122b5d1514316b1b553fb486445fe1482a48b8c8',
    },
    nsm: {
      file: 'nsm.ko',
      sha256: '48904e520db2541ca4378da29d85791749408febc81987ade56cc5c556bd90df',
    },
    cmdline: {
      file: 'cmdline',
      sha256: '10d7d9dd205d4596d45997d17434f26207525f129d171a51f9859b1af9f4a07a',
    },
  };
}

/** A loopback file server that records every request path. */
export interface FileServer {
  url: string;
  files: Map<string, Uint8Array>;
  requests: string[];
  close(): Promise<void>;
}

export async function fileServer(): Promise<FileServer> {
  const files = new Map<string, Uint8Array>();
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(path);
    const f = files.get(path);
    if (f === undefined) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.end(f);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An uncompressed tar of `files` (path -> content), made by the real tar with fixed metadata. */
export async function makeTar(files: Record<string, string>): Promise<Uint8Array> {
  const dir = await tempDir('image-tar-');
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(dir, 'pkg', p, '..'), { recursive: true });
    await writeFile(join(dir, 'pkg', p), c, { mode: 0o755 });
  }
  return execFileSync(
    'tar',
    [
      '-c',
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--format=gnu',
      '-C',
      dir,
      'pkg',
    ],
    { maxBuffer: 1 << 26 },
  );
}

/** Writes `recipe` as enclave/images/<name>/recipe.json (plus extra files) under a new root. */
export async function imageRoot(
  recipe: Record<string, unknown> & { name: string },
  extra: Record<string, string> = {},
): Promise<string> {
  const root = await tempDir('image-root-');
  await mkdir(join(root, 'enclave', 'images', recipe.name), { recursive: true });
  await writeFile(
    join(root, 'enclave', 'images', recipe.name, 'recipe.json'),
    JSON.stringify(recipe, null, 2),
  );
  for (const [p, c] of Object.entries(extra)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), c);
  }
  return root;
}

/** A recipe without Debian packages (no mmdebstrap), fast enough for `npm test`. */
export function tinyRecipe(
  tarUrl: string,
  tarSha: string,
): Record<string, unknown> & { name: string } {
  return {
    format: 1,
    name: 'tiny',
    version: '1.0.0',
    language: 'node',
    sourceDateEpoch: 1766966400,
    toolchain: { tool: '1' },
    tarballs: [{ url: tarUrl, sha256: tarSha, into: '/opt/tool', stripComponents: 1 }],
    blobs: recipeBlobs(),
    files: [{ source: 'enclave/images/tiny/run.sh', path: '/usr/local/bin/run', mode: '0755' }],
    cmd: ['/usr/local/bin/run', '--flag'],
    env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/tmp'],
  };
}

export const RUN_SH = '#!/bin/sh\necho hello from the enclave\n';
