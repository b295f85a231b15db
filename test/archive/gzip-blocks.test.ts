/**
 * The block-parallel gzip writer (src/archive/gzip-blocks.ts) against the readers its output
 * meets: GNU gzip, Node's zlib and the bundle's strict reader must all give back the input, for
 * sizes around the block boundaries; the bytes must not depend on how many blocks are compressed
 * at once.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GZIP_BLOCK_BYTES, gzipBlocks } from '../../src/archive/gzip-blocks.js';
import { BUNDLE_GZIP_HEADER } from '../../src/bundle/index.js';
import { gunzipCanonical } from '../../src/bundle/gzip.js';
import { collect } from '../../src/util/bytes.js';

async function compress(data: Buffer, parallel: number, chunk = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  const t = Readable.from(parts).pipe(
    gzipBlocks({ level: 9, header: BUNDLE_GZIP_HEADER, parallel }),
  );
  for await (const c of t) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Half compressible text, half random: both kinds of deflate block. */
function sample(size: number): Buffer {
  const b = Buffer.alloc(size);
  const text = Buffer.from('tee-compile attests builds; '.repeat(64));
  for (let i = 0; i < size; i += 8192) {
    const piece = (i / 8192) % 2 === 0 ? text : randomBytes(8192);
    piece.copy(b, i, 0, Math.min(8192, size - i));
  }
  return b;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('block-parallel gzip', () => {
  const B = GZIP_BLOCK_BYTES;
  it.each([0, 1, B - 1, B, B + 1, 3 * B + 12345])(
    'when %i bytes are compressed, gzip, zlib and the strict reader all give them back',
    async (size) => {
      const data = sample(size);
      const gz = await compress(data, 2);
      expect(Buffer.from(gz.subarray(0, 10))).toEqual(Buffer.from(BUNDLE_GZIP_HEADER));
      expect(sha(gunzipSync(gz))).toBe(sha(data));
      expect(sha(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 * B }))).toBe(sha(data));
      expect(sha(await collect(gunzipCanonical(Readable.from([gz]))))).toBe(sha(data));
      // `gzip -t` checks the trailer's CRC-32 and length too.
      execFileSync('gzip', ['-t'], { input: gz });
    },
  );

  it('when compressed with one block at a time or several, or fed in other chunks, the bytes are the same', async () => {
    const data = sample(2 * B + 777);
    const one = await compress(data, 1);
    const four = await compress(data, 4, 1000);
    expect(sha(four)).toBe(sha(one));
    // And it compresses about as one zlib stream does: each block starts from the one before.
    const text = Buffer.from(
      Array.from({ length: 200_000 }, (_, i) => `line ${i % 977} of the build log\n`).join(''),
    );
    expect((await compress(text, 2)).length).toBeLessThan(
      gzipSync(text, { level: 9 }).length * 1.02,
    );
  });
});
