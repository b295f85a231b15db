import { errorGuard, TeeCompileError } from '../errors.js';

/**
 * Refusal codes of the bundle layout (the archive mechanics refuse with `ArchiveError` codes).
 * Add, never rename.
 */
export const BUNDLE_ERROR_CODES = [
  'BUNDLE_MEMBER_MISSING', // provenance.json, attestation.cbor or build.log is absent
  'BUNDLE_MEMBER_DUPLICATE', // a required member or an artifact appears twice
  'BUNDLE_MEMBER_UNEXPECTED', // a member outside the layout (not one of the three files or under artifacts/)
  'BUNDLE_MEMBER_TOO_LARGE', // a member exceeds its own named limit
  'BUNDLE_ARTIFACT_INVALID', // writing: an artifact name is not a normalised relative path, repeats, or has no content
  'BUNDLE_NONCANONICAL', // not exactly what the bundle writer emits (tar header, pax record, member type or order, name, gzip framing)
] as const;

export type BundleErrorCode = (typeof BUNDLE_ERROR_CODES)[number];

/** A bundle that does not follow the layout, or an invalid request to write one. */
export class BundleError extends TeeCompileError<BundleErrorCode> {}

/** True for errors raised by the bundle module. */
export const isBundleError = errorGuard(BundleError);
