/** Node-only helpers shared by the modules' Node faces. Nothing on the verify path imports this. */
import { open } from 'node:fs/promises';

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
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
