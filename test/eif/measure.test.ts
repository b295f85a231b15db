import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { bytesSource, describeEif, measure, pureHashing } from '../../src/eif/index.js';
import { nodeHashing } from '../../src/eif/node.js';
import { crc32 } from '../../src/eif/hashing.js';
import { enc, rawEif, soundSections } from '../support/nitro/eif-build.js';

// nitro-brief §3.3: the synthetic vector, computed from the EIF README "EIF Measurements" rules.
const VECTOR = {
  pcr0: 'd2bf28888a2d15f0081faf38072aa6a5566e5c998bcb5d343f5d5221119c107d84b7e4a28cfe3701facc33676682e0e0',
  pcr1: '37dbb4503ad1cdc8e4b5b7ae783d5a44b3dfbdbd31e3135160d8b6c4645c0cfa3bdbe93120a7be12f3245ad7c85be7a9',
  pcr2: '242e5ccf0b52a4b54de34b61970d957e6e4ee156b67a78ce2fed248960ff14f05456f94877f4652f10e9506aff4c9de6',
};
const EXTEND_EMPTY =
  '21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a';

function sha384(...parts: string[]): Buffer {
  const h = createHash('sha384');
  for (const p of parts) h.update(p);
  return h.digest();
}

describe('EIF measurement (EIF README "EIF Measurements")', () => {
  it('when measuring the empty string, it gives SHA384(48 zero bytes || SHA384(""))', () => {
    expect(measure(new Uint8Array(0))).toBe(EXTEND_EMPTY);
    const direct = createHash('sha384').update(Buffer.alloc(48)).update(sha384('')).digest('hex');
    expect(measure(new Uint8Array(0), nodeHashing)).toBe(direct);
  });

  it('when given kernel KERNEL, cmdline console=ttyS0, ramdisks BOOT and APP, it gives the §3.3 vector', async () => {
    for (const hashing of [pureHashing, nodeHashing]) {
      const d = await describeEif(bytesSource(rawEif(soundSections())), { hashing });
      expect(d.measurements).toEqual(VECTOR);
      expect(d.crc.ok).toBe(true);
    }
  });

  it('when there is a single ramdisk, PCR2 is extend("") and PCR0 equals PCR1', async () => {
    const d = await describeEif(bytesSource(rawEif(soundSections([enc('BOOT')]))));
    expect(d.measurements.pcr2).toBe(EXTEND_EMPTY);
    expect(d.measurements.pcr0).toBe(d.measurements.pcr1);
    expect(d.measurements.pcr1).toBe(measure(enc('KERNELconsole=ttyS0BOOT')));
  });

  it('when there are several application ramdisks, PCR2 covers them all in file order', async () => {
    const ramdisks = [enc('BOOT'), enc('APP1'), enc('APP2'), enc('APP3')];
    const d = await describeEif(bytesSource(rawEif(soundSections(ramdisks))));
    expect(d.measurements.pcr2).toBe(measure(enc('APP1APP2APP3')));
    expect(d.measurements.pcr0).toBe(measure(enc('KERNELconsole=ttyS0BOOTAPP1APP2APP3')));
    const swapped = await describeEif(
      bytesSource(rawEif(soundSections([enc('BOOT'), enc('APP2'), enc('APP1'), enc('APP3')]))),
    );
    expect(swapped.measurements.pcr2).not.toBe(d.measurements.pcr2);
    expect(swapped.measurements.pcr1).toBe(d.measurements.pcr1);
  });

  it('when only the metadata changes, the PCRs do not', async () => {
    const a = rawEif(soundSections());
    const sections = soundSections();
    sections[2] = {
      type: 5,
      data: enc(new TextDecoder().decode(sections[2]!.data).replace('test-image', 'other-name')),
    };
    const b = rawEif(sections);
    const da = await describeEif(bytesSource(a));
    const db = await describeEif(bytesSource(b));
    expect(db.metadata.ImageName).toBe('other-name');
    expect(db.measurements).toEqual(da.measurements);
  });

  it('when computing CRC-32, the table version agrees with zlib and the check value', () => {
    expect(crc32(enc('123456789'))).toBe(0xcbf43926);
    const data = new Uint8Array(100_000).map((_, i) => (i * 7919) & 0xff);
    expect(crc32(data.subarray(5000), crc32(data.subarray(0, 5000)))).toBe(
      nodeHashing.crc32(data, 0),
    );
  });
});
