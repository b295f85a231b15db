import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Why an enclave image file was refused. Codes are API: add, never rename.
 *
 * - `READ_FAILED`: the file could not be read (I/O, not the image's fault).
 * - `TRUNCATED_HEADER`: shorter than the 548-byte EIF header.
 * - `BAD_MAGIC`: the first four bytes are not `.eif`.
 * - `UNSUPPORTED_VERSION`: header version other than 4.
 * - `BAD_FLAGS`: unknown header flag bits, or a section header with non-zero flags.
 * - `BAD_SECTION_COUNT`: zero sections, or more than 32.
 * - `BAD_SECTION_TABLE`: a section table entry past `num_sections` is not zero.
 * - `SECTION_OUT_OF_RANGE`: a section header or its data reaches past the end of the file.
 * - `SECTION_OVERLAP`: a section starts before the previous one ends.
 * - `SECTION_GAP`: unaccounted bytes before a section.
 * - `TRAILING_DATA`: bytes after the last section.
 * - `SECTION_SIZE_MISMATCH`: the header's section size differs from the section header's.
 * - `BAD_SECTION_TYPE`: section type 0 (invalid) or unknown.
 * - `BAD_SECTION_ORDER`: a ramdisk before the kernel or the cmdline.
 * - `MISSING_SECTION`: no kernel, cmdline, ramdisk or metadata section.
 * - `DUPLICATE_SECTION`: a second kernel, cmdline, metadata or signature section.
 * - `SECTION_TOO_LARGE`: cmdline, metadata or signature larger than its limit.
 * - `CRC_MISMATCH`: the header CRC does not match the file.
 * - `BAD_METADATA`: the metadata section is not the JSON object nitro-cli writes.
 * - `BAD_SIGNATURE_SECTION`: the signature section is malformed (CBOR, certificate, COSE_Sign1).
 * - `SIGNATURE_MISMATCH`: the PCR0 signature does not verify with the signing certificate, or
 *   signs another PCR0.
 */
export const EIF_ERROR_CODES = [
  'READ_FAILED',
  'TRUNCATED_HEADER',
  'BAD_MAGIC',
  'UNSUPPORTED_VERSION',
  'BAD_FLAGS',
  'BAD_SECTION_COUNT',
  'BAD_SECTION_TABLE',
  'SECTION_OUT_OF_RANGE',
  'SECTION_OVERLAP',
  'SECTION_GAP',
  'TRAILING_DATA',
  'SECTION_SIZE_MISMATCH',
  'BAD_SECTION_TYPE',
  'BAD_SECTION_ORDER',
  'MISSING_SECTION',
  'DUPLICATE_SECTION',
  'SECTION_TOO_LARGE',
  'CRC_MISMATCH',
  'BAD_METADATA',
  'BAD_SIGNATURE_SECTION',
  'SIGNATURE_MISMATCH',
] as const;

/** One of {@link EIF_ERROR_CODES}. */
export type EifErrorCode = (typeof EIF_ERROR_CODES)[number];

/** An enclave image file that cannot be read or was refused as damaged. */
export class EifError extends TeeCompileError<EifErrorCode> {}

/** True for errors raised by the EIF module. */
export const isEifError = errorGuard(EifError);
