/**
 * The section table against the file: where each section must be.
 *
 * nitro-cli reads sections back to back from byte 548 (aws-nitro-enclaves-image-format
 * `src/utils/eif_reader.rs` `EifReader::from_eif`) while QEMU follows the header's offset table
 * (`hw/core/eif.c` `read_eif_file`). We require both views to agree: sections contiguous from the
 * end of the header, in table order, nothing after the last one, and unused table entries zero.
 */
import { EifError } from './errors.js';
import type { EifHeaderFields } from './format.js';
import { EIF_HEADER_SIZE, MAX_SECTIONS, SECTION_HEADER_SIZE } from './format.js';

/** Offsets (of each section header) and data sizes, checked against a file of `fileSize` bytes. */
export function checkLayout(
  h: EifHeaderFields,
  fileSize: number,
): { offset: number; size: number }[] {
  if (h.numSections === 0 || h.numSections > MAX_SECTIONS)
    throw new EifError(
      'BAD_SECTION_COUNT',
      `header declares ${h.numSections} sections; expected 1 to ${MAX_SECTIONS}`,
      { path: 'header.num_sections' },
    );
  for (let i = h.numSections; i < MAX_SECTIONS; i++)
    if (h.sectionOffsets[i] !== 0n || h.sectionSizes[i] !== 0n)
      throw new EifError(
        'BAD_SECTION_TABLE',
        `section table entry ${i} is set but the header declares ${h.numSections} sections`,
        { path: `header.section_offsets.${i}` },
      );
  const size = BigInt(fileSize);
  const out: { offset: number; size: number }[] = [];
  let expected = BigInt(EIF_HEADER_SIZE);
  for (let i = 0; i < h.numSections; i++) {
    const off = h.sectionOffsets[i]!;
    const len = h.sectionSizes[i]!;
    const end = off + BigInt(SECTION_HEADER_SIZE) + len;
    if (end > size)
      throw new EifError(
        'SECTION_OUT_OF_RANGE',
        `section ${i} (offset ${off}, ${len} data bytes) ends at byte ${end}, past the end of the ` +
          `${fileSize}-byte file`,
        { path: `sections.${i}` },
      );
    if (off < expected)
      throw new EifError(
        'SECTION_OVERLAP',
        i === 0
          ? `section 0 starts at byte ${off}, inside the ${EIF_HEADER_SIZE}-byte header`
          : `section ${i} starts at byte ${off}, before section ${i - 1} ends (byte ${expected})`,
        { path: `sections.${i}` },
      );
    if (off > expected)
      throw new EifError(
        'SECTION_GAP',
        `section ${i} starts at byte ${off}; ${off - expected} unaccounted bytes precede it`,
        { path: `sections.${i}` },
      );
    out.push({ offset: Number(off), size: Number(len) });
    expected = end;
  }
  if (expected < size)
    throw new EifError(
      'TRAILING_DATA',
      `${size - expected} bytes follow the last section (file is ${fileSize} bytes)`,
      { path: 'sections' },
    );
  return out;
}
