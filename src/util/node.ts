/** Node-only helpers shared by the modules' Node faces. Nothing on the verify path imports this. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** SHA-256 (hex) and size of a file, read as a stream in 1 MiB chunks. */
export async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, {
    highWaterMark: 1 << 20,
  }) as AsyncIterable<Buffer>) {
    h.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: h.digest('hex'), bytes };
}

/** SHA-256 (hex) of a file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).sha256;
}

/**
 * The bytes of a small file the user names (a config, a policy, a catalog), through one file handle
 * so that what is checked is what is read. Throws a plain `Error` for the caller to wrap in its own
 * error: the file system's (ENOENT, EACCES…), "not a regular file", or "larger than N bytes".
 */
export async function readBoundedFile(path: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    return await readAtMost(fh, maxBytes, st.size);
  } finally {
    await fh.close();
  }
}

/** What `readAtMost` needs of a file handle. */
export interface PositionalReader {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
}

/** The smallest buffer a read starts with when the file's stated size is smaller. */
const FIRST_READ_BYTES = 64 * 1024;

/**
 * Reads a handle from its start to its end, never more than `maxBytes + 1` bytes: the stated size
 * is only where the buffer starts (a file can grow after its size was taken, and some files state
 * 0), and reading one byte past the bound is enough to refuse with "larger than N bytes".
 */
export async function readAtMost(
  fh: PositionalReader,
  maxBytes: number,
  statedBytes = 0,
): Promise<Buffer> {
  const cap = maxBytes + 1;
  let buf = Buffer.alloc(Math.min(cap, Math.max(statedBytes + 1, FIRST_READ_BYTES)));
  let length = 0;
  for (;;) {
    if (length === buf.length) {
      if (length === cap) throw new Error(`larger than ${maxBytes} bytes`);
      const bigger = Buffer.alloc(Math.min(cap, buf.length * 2));
      buf.copy(bigger, 0, 0, length);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, length, buf.length - length, length);
    if (bytesRead === 0) return buf.subarray(0, length);
    length += bytesRead;
  }
}
