import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EIF_HEADER_SIZE,
  assembleEif,
  bytesSource,
  describeEif,
  eifChunks,
} from '../../src/eif/index.js';
import type { EifInput } from '../../src/eif/index.js';
import { decodeHeader, decodeSectionHeader } from '../../src/eif/format.js';
import { describeEifFile, nodeHashing, writeEifFile } from '../../src/eif/node.js';
import { TEST_METADATA, enc, rawEif, soundSections } from '../support/nitro/eif-build.js';

const input = (): EifInput => ({
  kernel: enc('KERNEL'),
  cmdline: 'console=ttyS0',
  metadata: TEST_METADATA,
  ramdisks: [enc('BOOT'), enc('APP')],
});

/** A streamed section of `size` bytes, each `(i * 31) & 0xff`, in 1000-byte chunks. */
function streamed(size: number) {
  return {
    size,
    async *chunks() {
      for (let at = 0; at < size; at += 1000) {
        const n = Math.min(1000, size - at);
        yield new Uint8Array(n).map((_, i) => ((at + i) * 31) & 0xff);
        await Promise.resolve();
      }
    },
  };
}

describe('EIF writer (EifBuilder layout)', () => {
  it('when assembling, it lays out kernel, cmdline, metadata, ramdisks back to back with nitro-cli defaults', async () => {
    const b = await assembleEif(input());
    const h = decodeHeader(b.subarray(0, EIF_HEADER_SIZE));
    expect(h.version).toBe(4);
    expect(h.defaultMemory).toBe(1n << 30n);
    expect(h.defaultCpus).toBe(2n);
    expect(h.numSections).toBe(5);
    const types = h.sectionOffsets
      .slice(0, 5)
      .map((o) => decodeSectionHeader(b.subarray(Number(o), Number(o) + 12)).type);
    expect(types).toEqual([1, 2, 5, 3, 3]);
    expect(h.sectionOffsets[0]).toBe(548n);
    expect(h.sectionOffsets[1]).toBe(548n + 12n + 6n);
    // Same bytes as the hand-assembled reference with the same sections.
    expect(b).toEqual(rawEif(soundSections()));
  });

  it('when a section is streamed, the image equals the one made from the same bytes in memory', async () => {
    const s = streamed(250_001);
    const all = new Uint8Array(250_001).map((_, i) => (i * 31) & 0xff);
    const a = await assembleEif({ ...input(), ramdisks: [enc('BOOT'), s] }, nodeHashing);
    const b = await assembleEif({ ...input(), ramdisks: [enc('BOOT'), all] });
    expect(a).toEqual(b);
    const d = await describeEif(bytesSource(a));
    expect(d.sections.map((x) => x.size)).toEqual([6, 13, expect.any(Number), 4, 250_001]);
  });

  it('when a streamed section yields a different size than declared, it throws a RangeError', async () => {
    const lying = {
      size: 10,
      async *chunks() {
        yield new Uint8Array(9);
        await Promise.resolve();
      },
    };
    await expect(assembleEif({ ...input(), ramdisks: [lying] })).rejects.toThrow(RangeError);
  });

  it('when given no ramdisk or too many sections, it throws a TypeError/RangeError (caller mistakes)', async () => {
    await expect(assembleEif({ ...input(), ramdisks: [] })).rejects.toThrow(TypeError);
    const many = Array.from({ length: 30 }, () => enc('r'));
    await expect(assembleEif({ ...input(), ramdisks: many })).rejects.toThrow(RangeError);
  });

  it('when writing to a file, the file reads back with the same measurements', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eif-writer-'));
    try {
      const path = join(dir, 'x.eif');
      await writeEifFile(path, { ...input(), ramdisks: [enc('BOOT'), streamed(3_000_000)] });
      const fromFile = await describeEifFile(path);
      const fromBytes = await describeEif(bytesSource(new Uint8Array(await readFile(path))));
      expect(fromFile.measurements).toEqual(fromBytes.measurements);
      expect(fromFile.fileSize).toBe(
        EIF_HEADER_SIZE + 5 * 12 + 6 + 13 + fromFile.sections[2]!.size + 4 + 3_000_000,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when the aarch64 architecture is asked for, it sets header flag bit 0', async () => {
    const chunks: Uint8Array[] = [];
    for await (const c of eifChunks({ ...input(), arch: 'aarch64' })) chunks.push(c);
    expect(decodeHeader(chunks[0]!).flags).toBe(1);
  });
});
