/**
 * Assembles EIF v4 files the way nitro-cli's builder does (aws-nitro-enclaves-image-format
 * `src/utils/mod.rs` `EifBuilder`): sections in the order kernel, cmdline, metadata, ramdisks…,
 * signature; back to back after the 548-byte header; header CRC over everything but itself.
 *
 * Used to make test images and the deterministic simulated images of `enclave/images.json`.
 * Sections may be streamed, so multi-GiB images can be written with little memory: the data is
 * read once for PCR0 (signed images only), once for the CRC, once to emit it.
 */
import { collect } from '../util/bytes.js';
import {
  encodeCoseSign1,
  encodeProtectedHeader,
  sigStructure,
  type CoseAlgorithm,
} from '../cose/index.js';
import { encodePcrPayload, encodeSignatureSection } from './signature.js';
import {
  CRC_OFFSET,
  DEFAULT_CPUS,
  DEFAULT_MEMORY,
  EIF_FLAG_ARM64,
  EIF_HEADER_SIZE,
  EIF_MAGIC,
  EIF_VERSION,
  MAX_SECTIONS,
  SECTION_HEADER_SIZE,
  SECTION_TYPES,
  encodeHeader,
  encodeSectionHeader,
} from './format.js';
import type { EifHashing } from './hashing.js';
import { extendFresh, pureHashing } from './hashing.js';
import type { EifIdentityInfo } from './metadata.js';
import { encodeMetadata } from './metadata.js';

/** Section data: bytes, or a re-readable stream of a known size. */
export type EifSectionData =
  | Uint8Array
  | {
      size: number;
      /** Yields the data; called once per pass, so it must start over every time. */
      chunks(): AsyncIterable<Uint8Array>;
    };

/** Signs the PCR0 payload like `nitro-cli build-enclave --signing-certificate … --private-key …`. */
export interface EifSigner {
  /** PEM of the signing certificate (its DER is what PCR8 measures). */
  certificatePem: string | Uint8Array;
  /** The COSE algorithm, fixed by the key's curve: ES256 (P-256), ES384 (P-384), ES512 (P-521). */
  algorithm: CoseAlgorithm;
  /** Returns the raw r‖s ECDSA signature of `toBeSigned` (the COSE Sig_structure). */
  sign(toBeSigned: Uint8Array): Promise<Uint8Array>;
}

/** What goes into an EIF. */
export interface EifInput {
  kernel: EifSectionData;
  cmdline: string | Uint8Array;
  /** The identity nitro-cli records, or raw metadata bytes. */
  metadata: EifIdentityInfo | Uint8Array;
  /** At least one; the first is the bootstrap ramdisk (PCR1), the rest are PCR2. */
  ramdisks: EifSectionData[];
  signer?: EifSigner;
  arch?: 'x86_64' | 'aarch64';
  defaultMemory?: bigint;
  defaultCpus?: bigint;
}

interface Section {
  type: number;
  data: EifSectionData;
}

function sizeOf(d: EifSectionData): number {
  return d instanceof Uint8Array ? d.length : d.size;
}

async function* chunksOf(d: EifSectionData): AsyncGenerator<Uint8Array> {
  if (d instanceof Uint8Array) {
    yield d;
    return;
  }
  let n = 0;
  for await (const c of d.chunks()) {
    n += c.length;
    if (n > d.size) throw new RangeError(`section stream yields more than its size ${d.size}`);
    yield c;
  }
  if (n !== d.size)
    throw new RangeError(`section stream yields ${n} bytes, not its size ${d.size}`);
}

/** PCR0 of the sections, as the builder measures before signing (`EifBuilder::measure`). */
async function pcr0Of(sections: Section[], hashing: EifHashing): Promise<Uint8Array> {
  const h = hashing.sha384();
  for (const s of sections)
    if (s.type !== SECTION_TYPES.metadata && s.type !== SECTION_TYPES.signature)
      for await (const c of chunksOf(s.data)) h.update(c);
  return extendFresh(h.digest(), hashing);
}

/** Yields the bytes of the EIF described by `input`, header first. */
export async function* eifChunks(
  input: EifInput,
  hashing: EifHashing = pureHashing,
): AsyncGenerator<Uint8Array> {
  if (input.ramdisks.length === 0) throw new TypeError('an EIF needs at least one ramdisk');
  const cmdline =
    typeof input.cmdline === 'string' ? new TextEncoder().encode(input.cmdline) : input.cmdline;
  const metadata =
    input.metadata instanceof Uint8Array ? input.metadata : encodeMetadata(input.metadata);
  const sections: Section[] = [
    { type: SECTION_TYPES.kernel, data: input.kernel },
    { type: SECTION_TYPES.cmdline, data: cmdline },
    { type: SECTION_TYPES.metadata, data: metadata },
    ...input.ramdisks.map((data) => ({ type: SECTION_TYPES.ramdisk, data })),
  ];
  if (input.signer !== undefined) {
    const signer = input.signer;
    const pcr0 = await pcr0Of(sections, hashing);
    const protectedHeader = encodeProtectedHeader(signer.algorithm);
    const payload = encodePcrPayload(0, pcr0);
    const signature = await signer.sign(sigStructure(protectedHeader, payload));
    const pem =
      typeof signer.certificatePem === 'string'
        ? new TextEncoder().encode(signer.certificatePem)
        : signer.certificatePem;
    sections.push({
      type: SECTION_TYPES.signature,
      data: encodeSignatureSection([
        {
          signingCertificate: pem,
          signature: encodeCoseSign1(protectedHeader, payload, signature),
        },
      ]),
    });
  }
  if (sections.length > MAX_SECTIONS)
    throw new RangeError(`an EIF holds at most ${MAX_SECTIONS} sections`);

  const offsets: bigint[] = [];
  const sizes: bigint[] = [];
  let at = EIF_HEADER_SIZE;
  for (const s of sections) {
    offsets.push(BigInt(at));
    sizes.push(BigInt(sizeOf(s.data)));
    at += SECTION_HEADER_SIZE + sizeOf(s.data);
  }
  const header = {
    magic: EIF_MAGIC,
    version: EIF_VERSION,
    flags: input.arch === 'aarch64' ? EIF_FLAG_ARM64 : 0,
    defaultMemory: input.defaultMemory ?? BigInt(DEFAULT_MEMORY),
    defaultCpus: input.defaultCpus ?? BigInt(DEFAULT_CPUS),
    reserved: 0,
    numSections: sections.length,
    sectionOffsets: offsets,
    sectionSizes: sizes,
    unused: 0,
    crc32: 0,
  };
  const sectionHeaders = sections.map((s) =>
    encodeSectionHeader({ type: s.type, flags: 0, size: BigInt(sizeOf(s.data)) }),
  );
  // `EifBuilder::compute_crc`: header without its CRC field, then each section header and data.
  let crc = hashing.crc32(encodeHeader(header).subarray(0, CRC_OFFSET), 0);
  for (let i = 0; i < sections.length; i++) {
    crc = hashing.crc32(sectionHeaders[i]!, crc);
    for await (const c of chunksOf(sections[i]!.data)) crc = hashing.crc32(c, crc);
  }
  yield encodeHeader({ ...header, crc32: crc });
  for (let i = 0; i < sections.length; i++) {
    yield sectionHeaders[i]!;
    yield* chunksOf(sections[i]!.data);
  }
}

/** The whole EIF in memory (for small images). */
export async function assembleEif(
  input: EifInput,
  hashing: EifHashing = pureHashing,
): Promise<Uint8Array> {
  return collect(eifChunks(input, hashing));
}
