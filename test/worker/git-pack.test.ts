/**
 * The zlib streams of the worker's pack entries (stored blocks, as git writes with
 * `pack.compression 0`), checked against Node's zlib: what it inflates, and the Adler-32 it
 * writes itself. Real git reading the whole pack is test/worker/git-workspace.test.ts (fsck).
 */
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import {
  adler32,
  storedZlib,
  storedZlibLength,
  writeStoredZlib,
} from '../../src/worker/git-pack.js';

/** Bytes that do not repeat (a SHA-256 chain), `n` long. */
function bytes(n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < n; i++)
    parts.push(createHash('sha256').update(`b ${i}`).digest());
  return Buffer.concat(parts).subarray(0, n);
}

describe('stored zlib streams of pack entries', () => {
  // Around the stored block's 65 535-byte limit, and across Adler-32's 5 552-byte sums.
  it.each([0, 1, 5551, 5552, 5553, 65534, 65535, 65536, 131070, 131071, 1_000_003])(
    'when %d bytes are stored, zlib inflates them back unchanged',
    (n) => {
      const data = bytes(n);
      const z = Buffer.concat(storedZlib(data));
      expect(inflateSync(z).equals(data)).toBe(true);
      // Uncompressed: 2 header bytes, 5 per block, the data, 4 of Adler-32; the data's pieces
      // are views of it, not copies.
      expect(z.length).toBe(2 + Math.max(1, Math.ceil(n / 65535)) * 5 + n + 4);
      if (n > 0) expect(storedZlib(data)[2]!.buffer).toBe(data.buffer);
      // Written in place (as the pack's small entries are), the same bytes, where they were put.
      expect(storedZlibLength(n)).toBe(z.length);
      const out = Buffer.alloc(3 + z.length + 2, 0xaa);
      expect(writeStoredZlib(out, 3, data)).toBe(3 + z.length);
      expect(out.subarray(3, 3 + z.length).equals(z)).toBe(true);
      expect([...out.subarray(0, 3), ...out.subarray(3 + z.length)]).toEqual([
        0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
      ]);
    },
  );

  it('when the bytes are all 0xff (the largest sums), the Adler-32 is the one zlib writes', () => {
    for (const n of [1, 5552, 5553, 100_000, 1 << 20]) {
      const data = Buffer.alloc(n, 0xff);
      const z = deflateSync(data);
      expect(adler32(data)).toBe(z.readUInt32BE(z.length - 4));
    }
  });

  it('when one byte of a stored stream changes, zlib refuses its checksum', () => {
    const z = Buffer.concat(storedZlib(bytes(1000)));
    z[500] = z[500]! ^ 1;
    let code: unknown;
    try {
      inflateSync(z);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    }
    expect(code).toBe('Z_DATA_ERROR');
  });
});
