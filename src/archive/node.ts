/**
 * Node-only archive helpers: safe extraction of untrusted tar/zip archives to disk (./extract.ts,
 * ./zip.ts), deterministic packing of a directory, and writing tar(.gz) files (./pack.ts).
 */
export { SMALL_FILE_BYTES, extractTar } from './extract.js';
export type { ExtractOptions, ExtractResult, WrittenBlob } from './extract.js';
export { extractZip } from './zip.js';
export { fileChunks, inPieces, packDirectory, writeTarFile } from './pack.js';
export type { PackOptions, WriteResult } from './pack.js';
