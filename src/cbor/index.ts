/**
 * CBOR (RFC 8949): a strict decoder for untrusted input whose strictness each caller sets with a
 * {@link CborProfile}, and a deterministic encoder. Pure: runs in any JavaScript runtime. Callers
 * turn `CborError` into their own error class and codes at their boundary.
 */
export { CBOR_ERROR_CODES, CborError, isCborError } from './errors.js';
export type { CborErrorCode } from './errors.js';
export { decodeCbor, kindName } from './decode.js';
export type { CborItem, CborKind, CborProfile } from './decode.js';
export { CborRaw, CborTag, encodeCbor, encodeHead } from './encode.js';
export type { CborValue } from './encode.js';
