import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEif, eifChunks } from '../../src/eif/index.js';
import { nodeHashing, openEifFile } from '../../src/eif/node.js';
import { TEST_METADATA, enc } from '../support/nitro/eif-build.js';

const GIB = 1024 * 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
const ZERO = new Uint8Array(CHUNK);

let dir: string;
let path: string;

/**
 * Writes a 1 GiB EIF whose application ramdisk is all zeros, as a sparse file: the zero chunks
 * are skipped and the file is extended with ftruncate, so the test needs little disk.
 */
async function writeSparseEif(file: string): Promise<void> {
  const zeros = {
    size: GIB,
    async *chunks() {
      for (let at = 0; at < GIB; at += CHUNK) {
        yield ZERO;
        await Promise.resolve();
      }
    },
  };
  const fh = await open(file, 'w');
  try {
    let pos = 0;
    for await (const c of eifChunks(
      {
        kernel: enc('KERNEL'),
        cmdline: 'console=ttyS0',
        metadata: TEST_METADATA,
        ramdisks: [enc('BOOT'), zeros],
      },
      nodeHashing,
    )) {
      if (c !== ZERO) await fh.write(c, 0, c.length, pos);
      pos += c.length;
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eif-1g-'));
  path = join(dir, 'big.eif');
  await writeSparseEif(path);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('measuring a 1 GiB EIF', () => {
  it('when the image is 1 GiB, memory stays flat while it is read and the PCRs are right', async () => {
    const f = await openEifFile(path);
    try {
      expect(f.source.size).toBeGreaterThan(GIB);
      const before = process.memoryUsage.rss();
      let peak = before;
      const sampled = {
        size: f.source.size,
        read: (pos: number, len: number) => {
          peak = Math.max(peak, process.memoryUsage.rss());
          return f.source.read(pos, len);
        },
      };
      const d = await describeEif(sampled, { hashing: nodeHashing });
      peak = Math.max(peak, process.memoryUsage.rss());
      // The file is 1 GiB; reading it must not grow the process by anything near that.
      expect(peak - before).toBeLessThan(96 * 1024 * 1024);

      const app = createHash('sha384');
      for (let at = 0; at < GIB; at += CHUNK) app.update(ZERO);
      const pcr2 = createHash('sha384').update(Buffer.alloc(48)).update(app.digest()).digest('hex');
      expect(d.measurements.pcr2).toBe(pcr2);
      expect(d.crc.ok).toBe(true);
    } finally {
      await f.close();
    }
  });
});
