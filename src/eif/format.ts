/**
 * EIF v4 layout: the fixed header and the section headers.
 *
 * Source: aws-nitro-enclaves-image-format, README "EifHeader" / "Data sections" and
 * `src/defs/mod.rs` (`EifHeader`, `EifSectionHeader`, `EifSectionType`). Every integer is
 * big-endian.
 */
import { EifError } from './errors.js';

/** `.eif` in ASCII (`EIF_MAGIC`). */
export const EIF_MAGIC = new Uint8Array([0x2e, 0x65, 0x69, 0x66]);
/** The only version we read or write (`CURRENT_VERSION`; v4 made the metadata section mandatory). */
export const EIF_VERSION = 4;
/** Header flag bit 0: the kernel is aarch64 (`EIF_HDR_ARCH_ARM64`); every other bit is unused. */
export const EIF_FLAG_ARM64 = 0x1;
/** Size of the section table (`MAX_NUM_SECTIONS`). */
export const MAX_SECTIONS = 32;
/** `EifHeader::size()`: 4+2+2+8+8+2+2 + 32*8 + 32*8 + 4 + 4. */
export const EIF_HEADER_SIZE = 548;
/** `EifSectionHeader::size()`: u16 type, u16 flags, u64 size. */
export const SECTION_HEADER_SIZE = 12;
/** Offset of `eif_crc32`, the last header field; the CRC covers everything else. */
export const CRC_OFFSET = EIF_HEADER_SIZE - 4;

/** Defaults the nitro-cli builder writes into the (unused) header fields (`EifBuilder::new`). */
export const DEFAULT_MEMORY = 1024 * 1024 * 1024;
export const DEFAULT_CPUS = 2;

/** `EifSectionType`, numbered as in `src/defs/mod.rs`. */
export const SECTION_TYPES = {
  invalid: 0,
  kernel: 1,
  cmdline: 2,
  ramdisk: 3,
  signature: 4,
  metadata: 5,
} as const;

/** Name of a section type. */
export type EifSectionType = Exclude<keyof typeof SECTION_TYPES, 'invalid'>;

const TYPE_NAMES: readonly (EifSectionType | undefined)[] = [
  undefined,
  'kernel',
  'cmdline',
  'ramdisk',
  'signature',
  'metadata',
];

/** The section type named by a section header's type number, or undefined when invalid/unknown. */
export function sectionTypeName(n: number): EifSectionType | undefined {
  return TYPE_NAMES[n];
}

/** The decoded 548-byte header. Offsets and sizes stay bigint until checked against the file. */
export interface EifHeaderFields {
  magic: Uint8Array;
  version: number;
  flags: number;
  defaultMemory: bigint;
  defaultCpus: bigint;
  reserved: number;
  numSections: number;
  sectionOffsets: bigint[];
  sectionSizes: bigint[];
  unused: number;
  crc32: number;
}

/** Decodes the header bytes (exactly {@link EIF_HEADER_SIZE}); checks nothing. */
export function decodeHeader(bytes: Uint8Array): EifHeaderFields {
  if (bytes.length !== EIF_HEADER_SIZE)
    throw new EifError('TRUNCATED_HEADER', `EIF header must be ${EIF_HEADER_SIZE} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sectionOffsets: bigint[] = [];
  const sectionSizes: bigint[] = [];
  for (let i = 0; i < MAX_SECTIONS; i++) sectionOffsets.push(v.getBigUint64(28 + 8 * i));
  for (let i = 0; i < MAX_SECTIONS; i++) sectionSizes.push(v.getBigUint64(284 + 8 * i));
  return {
    magic: bytes.slice(0, 4),
    version: v.getUint16(4),
    flags: v.getUint16(6),
    defaultMemory: v.getBigUint64(8),
    defaultCpus: v.getBigUint64(16),
    reserved: v.getUint16(24),
    numSections: v.getUint16(26),
    sectionOffsets,
    sectionSizes,
    unused: v.getUint32(540),
    crc32: v.getUint32(CRC_OFFSET),
  };
}

/** Encodes a header (`EifHeader::to_be_bytes`). Table entries past the given lists are zero. */
export function encodeHeader(h: EifHeaderFields): Uint8Array {
  const out = new Uint8Array(EIF_HEADER_SIZE);
  const v = new DataView(out.buffer);
  out.set(h.magic.subarray(0, 4), 0);
  v.setUint16(4, h.version);
  v.setUint16(6, h.flags);
  v.setBigUint64(8, h.defaultMemory);
  v.setBigUint64(16, h.defaultCpus);
  v.setUint16(24, h.reserved);
  v.setUint16(26, h.numSections);
  for (let i = 0; i < MAX_SECTIONS; i++) {
    v.setBigUint64(28 + 8 * i, h.sectionOffsets[i] ?? 0n);
    v.setBigUint64(284 + 8 * i, h.sectionSizes[i] ?? 0n);
  }
  v.setUint32(540, h.unused);
  v.setUint32(CRC_OFFSET, h.crc32 >>> 0);
  return out;
}

/** A decoded section header. */
export interface SectionHeaderFields {
  type: number;
  flags: number;
  size: bigint;
}

/** Decodes a 12-byte section header; checks nothing. */
export function decodeSectionHeader(bytes: Uint8Array): SectionHeaderFields {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { type: v.getUint16(0), flags: v.getUint16(2), size: v.getBigUint64(4) };
}

/** Encodes a section header (`EifSectionHeader::to_be_bytes`). */
export function encodeSectionHeader(h: SectionHeaderFields): Uint8Array {
  const out = new Uint8Array(SECTION_HEADER_SIZE);
  const v = new DataView(out.buffer);
  v.setUint16(0, h.type);
  v.setUint16(2, h.flags);
  v.setBigUint64(4, h.size);
  return out;
}
