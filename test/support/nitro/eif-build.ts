/**
 * Hand-assembled EIFs for tests, including deliberately damaged ones. Unlike the project's
 * writer, every header field and section can be set to anything.
 */
import { crc32 } from '../../../src/eif/hashing.js';
import {
  CRC_OFFSET,
  EIF_HEADER_SIZE,
  EIF_MAGIC,
  SECTION_HEADER_SIZE,
  SECTION_TYPES,
  encodeHeader,
  encodeSectionHeader,
} from '../../../src/eif/format.js';
import type { EifIdentityInfo } from '../../../src/eif/metadata.js';
import { encodeMetadata } from '../../../src/eif/metadata.js';

/** Metadata as nitro-cli writes it. */
export const TEST_METADATA: EifIdentityInfo = {
  ImageName: 'test-image',
  ImageVersion: '1.0.0',
  BuildMetadata: {
    BuildTime: '2024-06-21T10:00:00.000000000+00:00',
    BuildTool: 'nitro-cli',
    BuildToolVersion: '1.3.1',
    OperatingSystem: 'Linux',
    KernelVersion: '6.1.0',
  },
  DockerInfo: { RepoTags: ['test:latest'], Id: 'sha256:00' },
  CustomMetadata: null,
};

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** One raw section. */
export interface RawSection {
  type: number;
  data: Uint8Array;
  flags?: number;
  /** Size written in the section header, if it must differ from `data.length`. */
  headerSize?: bigint;
}

/** Header fields to force. */
export interface RawOverrides {
  magic?: Uint8Array;
  version?: number;
  flags?: number;
  numSections?: number;
  offsets?: bigint[];
  sizes?: bigint[];
  crc?: number;
  /** Bytes appended after the last section. */
  trailing?: Uint8Array;
  /** Bytes inserted between the header and the first section. */
  gap?: Uint8Array;
}

/** Sections of a minimal sound image: kernel, cmdline, metadata, then the given ramdisks. */
export function soundSections(
  ramdisks: Uint8Array[] = [enc('BOOT'), enc('APP')],
  kernel = enc('KERNEL'),
  cmdline = enc('console=ttyS0'),
): RawSection[] {
  return [
    { type: SECTION_TYPES.kernel, data: kernel },
    { type: SECTION_TYPES.cmdline, data: cmdline },
    { type: SECTION_TYPES.metadata, data: encodeMetadata(TEST_METADATA) },
    ...ramdisks.map((data) => ({ type: SECTION_TYPES.ramdisk, data })),
  ];
}

/** Assembles an EIF from raw sections, with a correct CRC unless `o.crc` says otherwise. */
export function rawEif(sections: RawSection[], o: RawOverrides = {}): Uint8Array {
  const gap = o.gap ?? new Uint8Array(0);
  const offsets: bigint[] = [];
  const sizes: bigint[] = [];
  let at = EIF_HEADER_SIZE + gap.length;
  for (const s of sections) {
    offsets.push(BigInt(at));
    sizes.push(BigInt(s.data.length));
    at += SECTION_HEADER_SIZE + s.data.length;
  }
  const header = encodeHeader({
    magic: o.magic ?? EIF_MAGIC,
    version: o.version ?? 4,
    flags: o.flags ?? 0,
    defaultMemory: 1024n * 1024n * 1024n,
    defaultCpus: 2n,
    reserved: 0,
    numSections: o.numSections ?? sections.length,
    sectionOffsets: o.offsets ?? offsets,
    sectionSizes: o.sizes ?? sizes,
    unused: 0,
    crc32: 0,
  });
  const parts: Uint8Array[] = [header, gap];
  for (const s of sections) {
    parts.push(
      encodeSectionHeader({
        type: s.type,
        flags: s.flags ?? 0,
        size: s.headerSize ?? BigInt(s.data.length),
      }),
      s.data,
    );
  }
  parts.push(o.trailing ?? new Uint8Array(0));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const x of parts) {
    out.set(x, p);
    p += x.length;
  }
  return o.crc === undefined ? fixCrc(out) : setCrc(out, o.crc);
}

/** Writes `crc` into the header. */
export function setCrc(eif: Uint8Array, crc: number): Uint8Array {
  const out = eif.slice();
  new DataView(out.buffer).setUint32(CRC_OFFSET, crc >>> 0);
  return out;
}

/** Recomputes the header CRC over everything but the CRC field (in file order). */
export function fixCrc(eif: Uint8Array): Uint8Array {
  const c = crc32(eif.subarray(EIF_HEADER_SIZE), crc32(eif.subarray(0, CRC_OFFSET), 0));
  return setCrc(eif, c);
}
