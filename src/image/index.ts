/**
 * Reproducible enclave images: `tee-compile image build|reproduce`. An EIF from a pinned recipe
 * (Debian packages, toolchain tarballs, AWS boot blobs) with mmdebstrap, deterministic cpio
 * ramdisks laid out as nitro-cli does, and the project's EIF writer. Node-only.
 */
export { IMAGE_ERROR_CODES, ImageError, isImageError } from './errors.js';
export type { ImageErrorCode } from './errors.js';
export { RecipeSchema, parseRecipe, recipeJsonSchema } from './recipe.js';
export type { DebPackage, Recipe } from './recipe.js';
export {
  MAX_CPIO_MEMBERS,
  MAX_CPIO_NAME,
  comparePaths,
  cpioChunks,
  readCpio,
  writeCpio,
} from './cpio.js';
export type { CpioEntry, CpioMember } from './cpio.js';
export { CUSTOMER_DIRS, bootstrapMembers, configFile, customerMembers } from './ramdisk.js';
export { treeMembers } from './tree.js';
export { cachePath, fetchPinned } from './fetch.js';
export type { PinnedDownload } from './fetch.js';
export { checkBootBlobs, readCmdline } from './blobs.js';
export type { BootBlobs } from './blobs.js';
export { HELPER_CFLAGS } from './debian.js';
export {
  IMAGE_BUILD_FORMAT,
  IMAGE_BUILD_TOOL,
  MAX_RECIPE_BYTES,
  buildImage,
  loadRecipe,
  recipePath,
} from './build.js';
export type { BuildImageOptions, BuiltImage } from './build.js';
export { compareEifFiles, compareRamdisks } from './compare.js';
export type { EifDifference } from './compare.js';
export { reproduceImage } from './reproduce.js';
export type { ReproduceOptions, Reproduction } from './reproduce.js';
