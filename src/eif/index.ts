/**
 * Enclave image files (EIF v4): parsing, checks, PCR0/1/2/8 measurement, describe-eif output, and
 * a writer. Runtime-neutral; file access and node:crypto live in `./node.js`.
 */
export { EIF_ERROR_CODES, EifError, isEifError } from './errors.js';
export type { EifErrorCode } from './errors.js';
export {
  EIF_HEADER_SIZE,
  EIF_MAGIC,
  EIF_VERSION,
  MAX_SECTIONS,
  SECTION_HEADER_SIZE,
  SECTION_TYPES,
} from './format.js';
export type { EifSectionType } from './format.js';
export { crc32, extendFresh, measure, pureHashing } from './hashing.js';
export type { EifHashing, Sha384Hasher } from './hashing.js';
export { MAX_METADATA_SIZE, encodeMetadata, parseMetadata } from './metadata.js';
export type { EifBuildInfo, EifIdentityInfo, Json } from './metadata.js';
export { MAX_SIGNATURE_SECTION_SIZE, encodePcrPayload, pemToDer } from './signature.js';
export type { SigningCertificateInfo } from './certificate.js';
export { MAX_CMDLINE_SIZE, READ_CHUNK_SIZE, bytesSource, describeEif } from './reader.js';
export type {
  DescribeEifOptions,
  EifDescription,
  EifMeasurements,
  EifSectionInfo,
  EifSource,
} from './reader.js';
export {
  HASH_ALGORITHM,
  describeEifJson,
  formatDescribeEifJson,
  formatDescribeEifText,
  measurementsJson,
} from './describe.js';
export type { DescribeEifJson, MeasurementsJson } from './describe.js';
export { assembleEif, eifChunks } from './writer.js';
export type { EifInput, EifSectionData, EifSigner } from './writer.js';
