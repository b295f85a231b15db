import { describe, expect, it } from '@jest/globals';
import type { EifSource } from '../../src/eif/index.js';
import { EIF_ERROR_CODES, bytesSource, describeEif, isEifError } from '../../src/eif/index.js';
import { MAX_CMDLINE_SIZE } from '../../src/eif/reader.js';
import { MAX_METADATA_SIZE } from '../../src/eif/metadata.js';
import type { RawSection } from '../support/nitro/eif-build.js';
import { enc, fixCrc, rawEif, setCrc, soundSections } from '../support/nitro/eif-build.js';

const describeBytes = (b: Uint8Array) => describeEif(bytesSource(b));

/** Expects a refusal with `code`, and returns the error for further checks. */
async function refused(bytes: Uint8Array, code: string): Promise<Error> {
  const p = describeBytes(bytes);
  await expect(p).rejects.toHaveCode(code);
  return p.then(
    () => new Error('unreachable'),
    (e: unknown) => e as Error,
  );
}

const sound = () => soundSections();
const KERNEL = 1;
const CMDLINE = 2;
const RAMDISK = 3;
const METADATA = 5;

describe('EIF damage', () => {
  it('when the file is shorter than the header, it refuses with TRUNCATED_HEADER', async () => {
    const e = await refused(rawEif(sound()).subarray(0, 547), 'TRUNCATED_HEADER');
    expect(e.message).toContain('547 bytes');
  });

  it('when the magic is not .eif, it refuses with BAD_MAGIC', async () => {
    const e = await refused(rawEif(sound(), { magic: enc('ELF\x7f') }), 'BAD_MAGIC');
    expect(e.message).toContain('454c467f');
  });

  it('when the version is not 4, it refuses with UNSUPPORTED_VERSION', async () => {
    for (const version of [3, 5]) {
      const e = await refused(rawEif(sound(), { version }), 'UNSUPPORTED_VERSION');
      expect(e.message).toContain(`version ${version}`);
    }
  });

  it('when unknown header flags are set, it refuses with BAD_FLAGS', async () => {
    await refused(rawEif(sound(), { flags: 0x2 }), 'BAD_FLAGS');
  });

  it('when the aarch64 flag is set, it reads the image as aarch64', async () => {
    const d = await describeBytes(rawEif(sound(), { flags: 0x1 }));
    expect(d.arch).toBe('aarch64');
  });

  it('when a section header has non-zero flags, it refuses with BAD_FLAGS naming the section', async () => {
    const s = sound();
    s[3] = { ...s[3]!, flags: 1 };
    const e = await refused(rawEif(s), 'BAD_FLAGS');
    expect(e.message).toContain('section 3 (ramdisk)');
  });

  it('when there are zero or more than 32 sections, it refuses with BAD_SECTION_COUNT', async () => {
    await refused(rawEif([]), 'BAD_SECTION_COUNT');
    await refused(rawEif(sound(), { numSections: 0 }), 'BAD_SECTION_COUNT');
    const many: RawSection[] = [
      ...sound(),
      ...Array.from({ length: 28 }, () => ({ type: RAMDISK, data: enc('x') })),
    ];
    expect(many.length).toBe(33);
    await refused(rawEif(many.slice(0, 32), { numSections: 33 }), 'BAD_SECTION_COUNT');
  });

  it('when 32 sections are used, it accepts them', async () => {
    const many: RawSection[] = [
      ...sound(),
      ...Array.from({ length: 27 }, () => ({ type: RAMDISK, data: enc('x') })),
    ];
    expect(many.length).toBe(32);
    const d = await describeBytes(rawEif(many));
    expect(d.sections).toHaveLength(32);
  });

  it('when a table entry past num_sections is set, it refuses with BAD_SECTION_TABLE', async () => {
    const b = rawEif(sound());
    const v = new DataView(b.buffer, b.byteOffset);
    v.setBigUint64(284 + 8 * 20, 7n); // section_sizes[20]
    await refused(fixCrc(b), 'BAD_SECTION_TABLE');
  });

  it('when the table declares fewer sections than the file holds, it refuses with TRAILING_DATA', async () => {
    const s = sound();
    const b = rawEif(s);
    const v = new DataView(b.buffer, b.byteOffset);
    v.setUint16(26, 4);
    v.setBigUint64(28 + 8 * 4, 0n);
    v.setBigUint64(284 + 8 * 4, 0n);
    await refused(fixCrc(b), 'TRAILING_DATA');
  });

  it('when a section size reaches past the end of the file, it refuses with SECTION_OUT_OF_RANGE', async () => {
    const s = sound();
    const sizes = s.map((x) => BigInt(x.data.length));
    sizes[4] = 1n << 62n;
    const e = await refused(rawEif(s, { sizes }), 'SECTION_OUT_OF_RANGE');
    expect(e.message).toContain('section 4');
  });

  it('when a section offset lies past the end of the file, it refuses with SECTION_OUT_OF_RANGE', async () => {
    const b = rawEif(sound());
    new DataView(b.buffer, b.byteOffset).setBigUint64(28 + 8 * 4, BigInt(b.length) + 100n);
    const e = await refused(fixCrc(b), 'SECTION_OUT_OF_RANGE');
    expect(e.message).toContain('past the end of the');
  });

  it('when a section starts inside the previous one, it refuses with SECTION_OVERLAP', async () => {
    const s = sound();
    const b = rawEif(s);
    const v = new DataView(b.buffer, b.byteOffset);
    const off2 = v.getBigUint64(28 + 8 * 2);
    v.setBigUint64(28 + 8 * 2, off2 - 4n);
    const e = await refused(fixCrc(b), 'SECTION_OVERLAP');
    expect(e.message).toContain('before section 1 ends');
  });

  it('when the first section starts inside the header, it refuses with SECTION_OVERLAP', async () => {
    const b = rawEif(sound());
    new DataView(b.buffer, b.byteOffset).setBigUint64(28, 500n);
    const e = await refused(fixCrc(b), 'SECTION_OVERLAP');
    expect(e.message).toContain('inside the 548-byte header');
  });

  it('when bytes sit between the header and the first section, it refuses with SECTION_GAP', async () => {
    const b = rawEif(sound(), { gap: new Uint8Array(16) });
    const e = await refused(b, 'SECTION_GAP');
    expect(e.message).toContain('16 unaccounted bytes');
  });

  it('when bytes follow the last section, it refuses with TRAILING_DATA', async () => {
    const e = await refused(rawEif(sound(), { trailing: enc('extra') }), 'TRAILING_DATA');
    expect(e.message).toContain('5 bytes follow');
  });

  it('when a section header size differs from the table, it refuses with SECTION_SIZE_MISMATCH', async () => {
    const s = sound();
    s[0] = { ...s[0]!, headerSize: 5n };
    const e = await refused(rawEif(s), 'SECTION_SIZE_MISMATCH');
    expect(e.message).toContain('section 0 (kernel)');
  });

  it('when a section has type 0 or an unknown type, it refuses with BAD_SECTION_TYPE', async () => {
    for (const type of [0, 6, 0xffff]) {
      const s = sound();
      s.splice(3, 0, { type, data: enc('?') });
      const e = await refused(rawEif(s), 'BAD_SECTION_TYPE');
      expect(e.message).toContain(`type ${type}`);
    }
  });

  it('when a ramdisk comes before the kernel or the cmdline, it refuses with BAD_SECTION_ORDER', async () => {
    const s = sound();
    await refused(rawEif([s[3]!, s[0]!, s[1]!, s[2]!, s[4]!]), 'BAD_SECTION_ORDER');
    await refused(rawEif([s[0]!, s[3]!, s[1]!, s[2]!, s[4]!]), 'BAD_SECTION_ORDER');
  });

  it('when the kernel, cmdline, ramdisk or metadata is missing, it refuses with MISSING_SECTION', async () => {
    const s = sound();
    const without = (type: number) => s.filter((x) => x.type !== type);
    for (const [type, name] of [
      [KERNEL, 'kernel'],
      [CMDLINE, 'cmdline'],
      [RAMDISK, 'ramdisk'],
      [METADATA, 'metadata'],
    ] as const) {
      const sections = without(type);
      const e = await refused(rawEif(sections), 'MISSING_SECTION');
      expect(e.message).toContain(`no ${name} section`);
    }
  });

  it('when a kernel, cmdline or metadata section repeats, it refuses with DUPLICATE_SECTION', async () => {
    for (const i of [0, 1, 2]) {
      const s = sound();
      s.splice(i + 1, 0, s[i]!);
      const e = await refused(rawEif(s), 'DUPLICATE_SECTION');
      expect(e.message).toContain(`second ${['kernel', 'cmdline', 'metadata'][i]}`);
    }
  });

  it('when the cmdline or metadata is oversized, it refuses with SECTION_TOO_LARGE', async () => {
    const s = sound();
    s[1] = { type: CMDLINE, data: new Uint8Array(MAX_CMDLINE_SIZE + 1).fill(0x61) };
    await refused(rawEif(s), 'SECTION_TOO_LARGE');
    const t = sound();
    t[2] = { type: METADATA, data: new Uint8Array(MAX_METADATA_SIZE + 1).fill(0x20) };
    await refused(rawEif(t), 'SECTION_TOO_LARGE');
  });

  it('when a data byte changes but the CRC does not, it refuses with CRC_MISMATCH', async () => {
    const b = rawEif(sound());
    b[b.length - 1] = b[b.length - 1]! ^ 0x01;
    const e = await refused(b, 'CRC_MISMATCH');
    expect(e.message).toMatch(/header says 0x[0-9a-f]{8}, the file gives 0x[0-9a-f]{8}/);
  });

  it('when asked to report failed checks, a CRC mismatch is returned as crc.ok false with the PCRs', async () => {
    const good = await describeBytes(rawEif(sound()));
    const b = setCrc(rawEif(sound()), 0x12345678);
    const d = await describeEif(bytesSource(b), { checks: 'report' });
    expect(d.crc).toEqual({ stored: 0x12345678, computed: good.crc.computed, ok: false });
    expect(d.measurements).toEqual(good.measurements);
  });

  it('when the metadata is not what nitro-cli writes, it refuses with BAD_METADATA naming the field', async () => {
    const cases: [string, string][] = [
      ['not json', 'metadata'],
      ['[1]', 'metadata'],
      [
        '{"ImageVersion":"1","BuildMetadata":{"BuildTime":"","BuildTool":"","BuildToolVersion":"","OperatingSystem":"","KernelVersion":""}}',
        'metadata.ImageName',
      ],
      [
        '{"ImageName":"a","ImageVersion":"1","BuildMetadata":{"BuildTime":1,"BuildTool":"","BuildToolVersion":"","OperatingSystem":"","KernelVersion":""}}',
        'metadata.BuildMetadata.BuildTime',
      ],
      ['{"ImageName":"a","ImageVersion":"1"}', 'metadata.BuildMetadata'],
      [
        '{"ImageName":"a","ImageVersion":"1","BuildMetadata":{"BuildTime":"","BuildTool":"","BuildToolVersion":"","OperatingSystem":"","KernelVersion":""},"CustomMetadata":"x"}',
        'metadata.CustomMetadata',
      ],
    ];
    for (const [json, path] of cases) {
      const s = sound();
      s[2] = { type: METADATA, data: enc(json) };
      const e = await refused(rawEif(s), 'BAD_METADATA');
      expect((e as { path?: string }).path).toBe(path);
    }
    const s = sound();
    s[2] = { type: METADATA, data: new Uint8Array([0x7b, 0xff, 0x7d]) };
    await refused(rawEif(s), 'BAD_METADATA');
  });

  it('when metadata omits DockerInfo and CustomMetadata, it reads them as null (serde defaults)', async () => {
    const s = sound();
    s[2] = {
      type: METADATA,
      data: enc(
        '{"ImageName":"a","ImageVersion":"1","BuildMetadata":{"BuildTime":"t","BuildTool":"b","BuildToolVersion":"v","OperatingSystem":"o","KernelVersion":"k"},"Extra":1}',
      ),
    };
    const d = await describeBytes(rawEif(s));
    expect(d.metadata.DockerInfo).toBeNull();
    expect(d.metadata.CustomMetadata).toBeNull();
  });

  it('when the source returns fewer bytes than asked, it refuses with READ_FAILED', async () => {
    const b = rawEif(sound());
    const lying: EifSource = {
      size: b.length,
      read: (pos, len) => Promise.resolve(b.subarray(pos, pos + Math.max(0, len - 1))),
    };
    await expect(describeEif(lying)).rejects.toHaveCode('READ_FAILED');
  });

  it('when header and section bytes are corrupted at random, it only ever refuses with our errors', async () => {
    const base = rawEif(soundSections([enc('BOOT'), enc('APP')]));
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const b = base.slice();
      const flips = 1 + rnd(4);
      for (let f = 0; f < flips; f++) {
        // Mostly hit the header and the section headers, where the structure lives.
        const pos = rnd(3) === 0 ? rnd(b.length) : rnd(b.length < 700 ? b.length : 700);
        b[pos] = rnd(256);
      }
      const fixed = rnd(2) === 0 ? fixCrc(b) : b;
      try {
        await describeBytes(fixed);
        seen.add('ok');
      } catch (e) {
        if (!isEifError(e)) throw e;
        expect(EIF_ERROR_CODES).toContain(e.code);
        seen.add(e.code);
      }
    }
    expect(seen.size).toBeGreaterThan(5);
  });
});
