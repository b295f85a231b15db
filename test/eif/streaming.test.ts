import { describe, expect, it } from '@jest/globals';
import type { EifSource } from '../../src/eif/index.js';
import { READ_CHUNK_SIZE, assembleEif, bytesSource, describeEif } from '../../src/eif/index.js';
import { TEST_METADATA, enc } from '../support/nitro/eif-build.js';

describe('streaming reads', () => {
  it('when measuring, it reads every byte once, in bounded chunks, front to back', async () => {
    const big = new Uint8Array(5 * READ_CHUNK_SIZE + 123).fill(0xab);
    const eif = await assembleEif({
      kernel: new Uint8Array(READ_CHUNK_SIZE + 1).fill(1),
      cmdline: 'console=ttyS0',
      metadata: TEST_METADATA,
      ramdisks: [enc('BOOT'), big],
    });
    const inner = bytesSource(eif);
    const reads: [number, number][] = [];
    const source: EifSource = {
      size: inner.size,
      read: (pos, len) => {
        reads.push([pos, len]);
        return inner.read(pos, len);
      },
    };
    const d = await describeEif(source);
    expect(d.measurements).toEqual((await describeEif(bytesSource(eif))).measurements);
    expect(Math.max(...reads.map(([, len]) => len))).toBeLessThanOrEqual(READ_CHUNK_SIZE);
    expect(reads.reduce((n, [, len]) => n + len, 0)).toBe(eif.length);
    for (let i = 1; i < reads.length; i++) {
      const [p, l] = reads[i - 1]!;
      expect(reads[i]![0]).toBe(p + l);
    }
  });
});
