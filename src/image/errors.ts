/**
 * Errors of `tee-compile image build|reproduce`. Codes are API: add, never rename.
 */
import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * - `RECIPE_UNREADABLE`: the recipe file cannot be read or is not JSON.
 * - `RECIPE_INVALID`: the recipe does not match its schema (the error names the field).
 * - `DOWNLOAD_FAILED`: a package, tarball or blob could not be fetched (the error names the URL).
 * - `DIGEST_MISMATCH`: fetched bytes differ from the recipe's SHA-256 (names the package or URL).
 * - `BLOB_MISSING`: a boot blob is not in the `--blobs` folder.
 * - `TOOL_MISSING`: a program the build needs (mmdebstrap, tar) is not installed.
 * - `TOOL_FAILED`: such a program failed (its output is in the message).
 * - `PATH_UNSAFE`: a recipe or ramdisk path escapes its folder or repeats.
 * - `CPIO_INVALID`: a ramdisk read back is not the newc form this writer emits.
 * - `IMAGE_NOT_FOUND`: no recipe or catalog entry for the name.
 * - `REPRODUCE_MISMATCH`: the rebuilt image differs from the one on record.
 */
export const IMAGE_ERROR_CODES = [
  'RECIPE_UNREADABLE',
  'RECIPE_INVALID',
  'DOWNLOAD_FAILED',
  'DIGEST_MISMATCH',
  'BLOB_MISSING',
  'TOOL_MISSING',
  'TOOL_FAILED',
  'PATH_UNSAFE',
  'CPIO_INVALID',
  'IMAGE_NOT_FOUND',
  'REPRODUCE_MISMATCH',
] as const;
export type ImageErrorCode = (typeof IMAGE_ERROR_CODES)[number];

/** A refused image build or reproduction. */
export class ImageError extends TeeCompileError<ImageErrorCode> {}

/** True for errors raised by this module. */
export const isImageError = errorGuard(ImageError);
