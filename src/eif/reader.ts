/**
 * Reads an EIF once, front to back, and measures it as `nitro-cli describe-eif` does.
 *
 * What is measured (aws-nitro-enclaves-image-format `src/utils/eif_reader.rs` `EifReader::from_eif`
 * and `src/utils/mod.rs` `get_pcrs`, cross-checked with QEMU `hw/core/eif.c`): section data only,
 * in file order; PCR0 = kernel ‖ cmdline ‖ every ramdisk, PCR1 = kernel ‖ cmdline ‖ first ramdisk,
 * PCR2 = the other ramdisks (empty when there is one), PCR8 = DER of the signing certificate; each
 * as `SHA384(48 zero bytes ‖ SHA384(data))`. The CRC covers the header minus its CRC field, then
 * every section header and its data in file order (`EifReader::check_crc`).
 *
 * Stricter than nitro-cli on layout: nitro-cli reads sections back to back from byte 548 and QEMU
 * follows the header's offset table, so we require both to agree (contiguous sections, table
 * sizes equal to section-header sizes, nothing after the last section) so that every reader sees
 * the same sections.
 */
import { toHex } from '../util/hex.js';
import { EifError } from './errors.js';
import type { EifSectionType } from './format.js';
import {
  CRC_OFFSET,
  EIF_FLAG_ARM64,
  EIF_HEADER_SIZE,
  EIF_MAGIC,
  EIF_VERSION,
  SECTION_HEADER_SIZE,
  decodeHeader,
  decodeSectionHeader,
  sectionTypeName,
} from './format.js';
import { checkLayout } from './layout.js';
import type { EifHashing, Sha384Hasher } from './hashing.js';
import { extendFresh, pureHashing } from './hashing.js';
import type { EifIdentityInfo } from './metadata.js';
import { MAX_METADATA_SIZE, parseMetadata } from './metadata.js';
import type { SigningCertificateInfo } from './certificate.js';
import { MAX_SIGNATURE_SECTION_SIZE, inspectSignatureSection } from './signature.js';

/** Random-access bytes of an EIF. */
export interface EifSource {
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes at `position`. The returned view may be reused by the next call, so
   * the reader copies what it keeps.
   */
  read(position: number, length: number): Promise<Uint8Array>;
}

/** Largest read the reader asks of its source; memory use stays near this whatever the EIF size. */
export const READ_CHUNK_SIZE = 1024 * 1024;
/** Largest cmdline section we accept (Linux limits the command line to a few KiB). */
export const MAX_CMDLINE_SIZE = 64 * 1024;

/** A source over bytes already in memory. */
export function bytesSource(bytes: Uint8Array): EifSource {
  return {
    size: bytes.length,
    read: (position, length) => {
      if (position + length > bytes.length)
        return Promise.reject(new EifError('READ_FAILED', 'read past the end of the image'));
      return Promise.resolve(bytes.subarray(position, position + length));
    },
  };
}

/** One section, as found in the file. */
export interface EifSectionInfo {
  index: number;
  type: EifSectionType;
  /** Offset of the section header. */
  offset: number;
  /** Size of the data (without the 12-byte section header). */
  size: number;
}

/** PCR values, lower-case hex (96 characters). */
export interface EifMeasurements {
  pcr0: string;
  pcr1: string;
  pcr2: string;
  /** Only for signed images. */
  pcr8?: string;
}

/** Everything `describeEif` learns about an image. */
export interface EifDescription {
  version: number;
  arch: 'x86_64' | 'aarch64';
  /** Header fields nitro-cli writes but does not use (`default_mem`, `default_cpus`). */
  defaultMemory: bigint;
  defaultCpus: bigint;
  fileSize: number;
  sections: EifSectionInfo[];
  measurements: EifMeasurements;
  crc: { stored: number; computed: number; ok: boolean };
  /** The kernel command line (UTF-8, invalid bytes replaced). */
  cmdline: string;
  metadata: EifIdentityInfo;
  /** Present for signed images. */
  signature?: {
    certificateDer: Uint8Array;
    certificate: SigningCertificateInfo;
    /** describe-eif's `SignatureCheck`. */
    check: boolean;
    reason?: string;
  };
}

/** Options of {@link describeEif}. */
export interface DescribeEifOptions {
  hashing?: EifHashing;
  /**
   * `enforce` (default): a CRC or signature-check failure throws `CRC_MISMATCH` /
   * `SIGNATURE_MISMATCH`. `report`: they are returned as `crc.ok` / `signature.check` false, as
   * describe-eif reports them.
   */
  checks?: 'enforce' | 'report';
}

/** Section types whose data the reader buffers (all small), with their limits. */
const BUFFERED: Partial<Record<EifSectionType, number>> = {
  cmdline: MAX_CMDLINE_SIZE,
  metadata: MAX_METADATA_SIZE,
  signature: MAX_SIGNATURE_SECTION_SIZE,
};

const SINGLE: readonly EifSectionType[] = ['kernel', 'cmdline', 'metadata', 'signature'];

async function readExact(src: EifSource, pos: number, len: number): Promise<Uint8Array> {
  const b = await src.read(pos, len);
  if (b.length !== len)
    throw new EifError('READ_FAILED', `short read: ${b.length} of ${len} bytes at offset ${pos}`);
  return b;
}

/**
 * Parses, checks and measures an EIF in one sequential pass, holding at most one read chunk of
 * kernel/ramdisk data at a time. Throws {@link EifError} for a damaged image.
 */
export async function describeEif(
  source: EifSource,
  options: DescribeEifOptions = {},
): Promise<EifDescription> {
  const hashing = options.hashing ?? pureHashing;
  const enforce = (options.checks ?? 'enforce') === 'enforce';
  if (source.size < EIF_HEADER_SIZE)
    throw new EifError(
      'TRUNCATED_HEADER',
      `file is ${source.size} bytes, shorter than the ${EIF_HEADER_SIZE}-byte EIF header`,
      { path: 'header' },
    );
  const headerBytes = (await readExact(source, 0, EIF_HEADER_SIZE)).slice();
  const h = decodeHeader(headerBytes);
  if (!h.magic.every((b, i) => b === EIF_MAGIC[i]))
    throw new EifError('BAD_MAGIC', `not an EIF: magic is ${toHex(h.magic)}, expected 2e656966`, {
      path: 'header.magic',
    });
  if (h.version !== EIF_VERSION)
    throw new EifError(
      'UNSUPPORTED_VERSION',
      `EIF version ${h.version} is not supported; only version ${EIF_VERSION} is`,
      { path: 'header.version' },
    );
  if ((h.flags & ~EIF_FLAG_ARM64) !== 0)
    throw new EifError('BAD_FLAGS', `unknown header flags 0x${h.flags.toString(16)}`, {
      path: 'header.flags',
    });
  const layout = checkLayout(h, source.size);

  let crc = hashing.crc32(headerBytes.subarray(0, CRC_OFFSET), 0);
  const image = hashing.sha384(); // PCR0
  const bootstrap = hashing.sha384(); // PCR1
  const app = hashing.sha384(); // PCR2
  const sections: EifSectionInfo[] = [];
  const buffered = new Map<EifSectionType, Uint8Array>();
  let ramdisks = 0;
  let misplacedRamdisk: number | undefined;

  for (let i = 0; i < layout.length; i++) {
    const { offset, size } = layout[i]!;
    const path = `sections.${i}`;
    const shBytes = await readExact(source, offset, SECTION_HEADER_SIZE);
    crc = hashing.crc32(shBytes, crc);
    const sh = decodeSectionHeader(shBytes);
    const type = sectionTypeName(sh.type);
    if (type === undefined)
      throw new EifError(
        'BAD_SECTION_TYPE',
        `section ${i} has type ${sh.type}, which is ${sh.type === 0 ? 'invalid' : 'unknown'}`,
        { path: `${path}.type` },
      );
    if (sh.size !== BigInt(size))
      throw new EifError(
        'SECTION_SIZE_MISMATCH',
        `section ${i} (${type}): header table says ${size} bytes, section header says ${sh.size}`,
        { path: `${path}.size` },
      );
    // nitro-cli writes 0; QEMU refuses anything else (hw/core/eif.c).
    if (sh.flags !== 0)
      throw new EifError(
        'BAD_FLAGS',
        `section ${i} (${type}) has flags 0x${sh.flags.toString(16)}`,
        {
          path: `${path}.flags`,
        },
      );
    if (SINGLE.includes(type) && sections.some((s) => s.type === type))
      throw new EifError('DUPLICATE_SECTION', `section ${i} is a second ${type} section`, { path });
    // PCR1 is kernel ‖ cmdline ‖ first ramdisk; a ramdisk ahead of them is refused once we know
    // whether they exist at all (below), so that a missing section is reported as missing.
    if (
      type === 'ramdisk' &&
      misplacedRamdisk === undefined &&
      !(buffered.has('cmdline') && sections.some((s) => s.type === 'kernel'))
    )
      misplacedRamdisk = i;
    const limit = BUFFERED[type];
    if (limit !== undefined && size > limit)
      throw new EifError(
        'SECTION_TOO_LARGE',
        `section ${i} (${type}) is ${size} bytes, more than ${limit}`,
        { path },
      );
    sections.push({ index: i, type, offset, size });

    const targets: Sha384Hasher[] = [];
    if (type === 'kernel' || type === 'cmdline') targets.push(image, bootstrap);
    if (type === 'ramdisk') targets.push(image, ramdisks === 0 ? bootstrap : app);
    if (type === 'ramdisk') ramdisks += 1;
    const keep = limit !== undefined ? new Uint8Array(size) : undefined;
    for (let done = 0; done < size;) {
      const n = Math.min(READ_CHUNK_SIZE, size - done);
      const chunk = await readExact(source, offset + SECTION_HEADER_SIZE + done, n);
      crc = hashing.crc32(chunk, crc);
      for (const t of targets) t.update(chunk);
      keep?.set(chunk, done);
      done += n;
    }
    if (keep !== undefined) buffered.set(type, keep);
  }

  for (const t of ['kernel', 'cmdline', 'ramdisk', 'metadata'] as const)
    if (!sections.some((s) => s.type === t))
      throw new EifError(
        'MISSING_SECTION',
        `no ${t} section${t === 'metadata' ? ' (mandatory since EIF version 4)' : ''}`,
        { path: 'sections' },
      );

  if (misplacedRamdisk !== undefined)
    throw new EifError(
      'BAD_SECTION_ORDER',
      `section ${misplacedRamdisk} is a ramdisk before the kernel and cmdline sections`,
      { path: `sections.${misplacedRamdisk}` },
    );

  const crcInfo = { stored: h.crc32, computed: crc >>> 0, ok: h.crc32 === crc >>> 0 };
  if (!crcInfo.ok && enforce)
    throw new EifError(
      'CRC_MISMATCH',
      `CRC mismatch: header says 0x${crcInfo.stored.toString(16).padStart(8, '0')}, ` +
        `the file gives 0x${crcInfo.computed.toString(16).padStart(8, '0')}`,
      { path: 'header.eif_crc32' },
    );

  const measurements: EifMeasurements = {
    pcr0: toHex(extendFresh(image.digest(), hashing)),
    pcr1: toHex(extendFresh(bootstrap.digest(), hashing)),
    pcr2: toHex(extendFresh(app.digest(), hashing)),
  };
  const metadata = parseMetadata(buffered.get('metadata')!);
  const description: EifDescription = {
    version: h.version,
    arch: (h.flags & EIF_FLAG_ARM64) !== 0 ? 'aarch64' : 'x86_64',
    defaultMemory: h.defaultMemory,
    defaultCpus: h.defaultCpus,
    fileSize: source.size,
    sections,
    measurements,
    crc: crcInfo,
    cmdline: new TextDecoder().decode(buffered.get('cmdline')),
    metadata,
  };

  const sig = buffered.get('signature');
  if (sig !== undefined) {
    const s = await inspectSignatureSection(sig, measurements.pcr0);
    const certHash = hashing.sha384();
    certHash.update(s.certificateDer);
    measurements.pcr8 = toHex(extendFresh(certHash.digest(), hashing));
    if (!s.check && enforce)
      throw new EifError('SIGNATURE_MISMATCH', `signature check failed: ${s.reason ?? ''}`, {
        path: 'signature',
      });
    description.signature = s;
  }
  return description;
}
