/**
 * Downloads pinned inputs into a content-addressed cache. A mirror or the cache is never trusted:
 * every file is hashed when fetched and again when taken from the cache, and bytes that differ
 * from the recipe's SHA-256 are refused with `DIGEST_MISMATCH` naming what and where.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { sha256File } from '../util/node.js';
import { ImageError } from './errors.js';

/** What to fetch. */
export interface PinnedDownload {
  url: string;
  sha256: string;
  /** How the error names it, e.g. `package nodejs=20.19.2` or `tarball <url>`. */
  what: string;
}

/** Path of the cached file for a digest. */
export function cachePath(cacheDir: string, sha256: string): string {
  return join(cacheDir, 'sha256', sha256);
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function source(url: string, what: string): Promise<Readable> {
  if (url.startsWith('file:')) return createReadStream(fileURLToPath(url));
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    throw new ImageError(
      'DOWNLOAD_FAILED',
      `cannot fetch ${what} from ${url}: ${(e as Error).message}`,
      {
        path: url,
        cause: e,
      },
    );
  }
  if (!res.ok || res.body === null)
    throw new ImageError(
      'DOWNLOAD_FAILED',
      `cannot fetch ${what} from ${url}: HTTP ${res.status}`,
      {
        path: url,
      },
    );
  return Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
}

/**
 * The cached file of `d`, fetched when missing. Throws `DIGEST_MISMATCH` when the bytes (fetched
 * or cached) are not those pinned, `DOWNLOAD_FAILED` when they cannot be fetched.
 */
export async function fetchPinned(d: PinnedDownload, cacheDir: string): Promise<string> {
  const file = cachePath(cacheDir, d.sha256);
  if (await exists(file)) {
    if ((await sha256File(file)) === d.sha256) return file;
    await rm(file, { force: true }); // a damaged cache entry: fetch again
  }
  await mkdir(join(cacheDir, 'sha256'), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  const h = createHash('sha256');
  try {
    const src = await source(d.url, d.what);
    src.on('data', (c: Buffer) => h.update(c));
    await pipeline(src, createWriteStream(partial));
  } catch (e) {
    await rm(partial, { force: true });
    if (e instanceof ImageError) throw e;
    throw new ImageError(
      'DOWNLOAD_FAILED',
      `cannot fetch ${d.what} from ${d.url}: ${(e as Error).message}`,
      {
        path: d.url,
        cause: e,
      },
    );
  }
  const got = h.digest('hex');
  if (got !== d.sha256) {
    await rm(partial, { force: true });
    throw new ImageError(
      'DIGEST_MISMATCH',
      `${d.what} from ${d.url} has SHA-256 ${got}, but the recipe pins ${d.sha256}; ` +
        'the mirror served other bytes (fix the mirror, or update the recipe on purpose)',
      { path: d.url },
    );
  }
  await rename(partial, file);
  return file;
}
