/**
 * Node-only side of the EIF module: files and the fast node:crypto / zlib digests. Kept apart so
 * that `./index.js` stays usable in a browser.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from '../util/stream-digest.js';
import { EifError } from './errors.js';
import type { EifHashing } from './hashing.js';
import type { DescribeEifOptions, EifDescription, EifSource } from './reader.js';
import { READ_CHUNK_SIZE, describeEif } from './reader.js';
import type { EifInput } from './writer.js';
import { eifChunks } from './writer.js';

/** node:crypto SHA-384 and zlib CRC-32. */
export const nodeHashing: EifHashing = {
  sha384: () => {
    const h = createHash('sha384');
    return {
      update: (data) => {
        h.update(data);
      },
      digest: () => new Uint8Array(h.digest()),
    };
  },
  // zlib's where Node has it (from 20.15 / 22.2), an empty piece passed over (see `crc32`).
  crc32,
};

function readFailed(path: string, err: unknown): EifError {
  const code = (err as { code?: unknown }).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : (err as Error).message;
  return new EifError('READ_FAILED', `cannot read ${path}: ${why}`, { cause: err });
}

/** An open EIF file. */
export interface EifFile {
  source: EifSource;
  close(): Promise<void>;
}

/**
 * Opens an EIF for reading. Reads go through one reused buffer of {@link READ_CHUNK_SIZE} bytes,
 * so memory stays flat whatever the file size.
 */
export async function openEifFile(path: string): Promise<EifFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw readFailed(path, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    let buf = Buffer.allocUnsafe(READ_CHUNK_SIZE);
    const source: EifSource = {
      size: st.size,
      read: async (position, length) => {
        if (length > buf.length) buf = Buffer.allocUnsafe(length);
        let got = 0;
        try {
          while (got < length) {
            const { bytesRead } = await fh.read(buf, got, length - got, position + got);
            if (bytesRead === 0) break;
            got += bytesRead;
          }
        } catch (e) {
          throw readFailed(path, e);
        }
        if (got !== length)
          throw new EifError(
            'READ_FAILED',
            `cannot read ${path}: file ended at byte ${position + got} (did it change while being read?)`,
          );
        return buf.subarray(0, length);
      },
    };
    return { source, close: () => fh.close() };
  } catch (e) {
    await fh.close();
    throw e instanceof EifError ? e : readFailed(path, e);
  }
}

/** Opens, describes and closes an EIF file (node:crypto hashing unless told otherwise). */
export async function describeEifFile(
  path: string,
  options: DescribeEifOptions = {},
): Promise<EifDescription> {
  const f = await openEifFile(path);
  try {
    return await describeEif(f.source, { hashing: nodeHashing, ...options });
  } finally {
    await f.close();
  }
}

/** Writes the EIF described by `input` to `path`, streaming. */
export async function writeEifFile(
  path: string,
  input: EifInput,
  hashing: EifHashing = nodeHashing,
): Promise<void> {
  await pipeline(Readable.from(eifChunks(input, hashing)), createWriteStream(path));
}
