import { TeeCompileError } from '../errors.js';

/**
 * Why the image catalog cannot be used, or a lookup found nothing. Codes are API: add, never
 * rename.
 *
 * - `CATALOG_UNREADABLE`: the catalog file cannot be read or is not JSON.
 * - `CATALOG_INVALID`: the catalog does not match the schema (the error names the field).
 * - `CATALOG_STALE`: recipe hashes or simulated PCRs differ from the recipe files.
 * - `IMAGE_NOT_FOUND`: no image matches a lookup.
 * - `IMAGE_MISMATCH`: an EIF's measurements or digest do not belong to the catalog entry.
 */
export const IMAGE_CATALOG_ERROR_CODES = [
  'CATALOG_UNREADABLE',
  'CATALOG_INVALID',
  'CATALOG_STALE',
  'IMAGE_NOT_FOUND',
  'IMAGE_MISMATCH',
] as const;
export type ImageCatalogErrorCode = (typeof IMAGE_CATALOG_ERROR_CODES)[number];

/** A catalog that cannot be used, or a lookup that found nothing. */
export class ImageCatalogError extends TeeCompileError<ImageCatalogErrorCode> {}
