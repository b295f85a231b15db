/**
 * Bounds applied when reading a bundle from an untrusted source, each checked at a member's header
 * before its bytes are read. Verification streams artifacts (their size costs time, not memory);
 * provenance.json and attestation.cbor are held in memory and bounded tightly.
 */
export interface BundleLimits {
  /** Members of the archive (files and directories). */
  maxEntries: number;
  /** Sum of all member sizes (and of the decompressed stream). */
  maxTotalBytes: number;
  /** One artifact. */
  maxArtifactBytes: number;
  /** provenance.json (a statement lists every locked dependency). */
  maxProvenanceBytes: number;
  /** provenance.dsse.json (provenance.json in base64, plus the signature). */
  maxEnvelopeBytes: number;
  /** attestation.cbor (a Nitro document is about 4-5 KiB). */
  maxAttestationBytes: number;
  /** build.log. */
  maxLogBytes: number;
}

export const MAX_BUNDLE_ENTRIES = 10_000;
export const MAX_BUNDLE_BYTES = 16 * 1024 ** 3;
export const MAX_ARTIFACT_BYTES = 4 * 1024 ** 3;
export const MAX_PROVENANCE_BYTES = 16 * 1024 ** 2;
export const MAX_ENVELOPE_BYTES = Math.ceil(MAX_PROVENANCE_BYTES / 3) * 4 + 4096;
export const MAX_ATTESTATION_BYTES = 64 * 1024;
export const MAX_LOG_BYTES = 64 * 1024 ** 2;
/** Longest member path (bytes) and deepest nesting accepted in a bundle. */
export const MAX_BUNDLE_PATH_BYTES = 4096;
export const MAX_BUNDLE_PATH_DEPTH = 64;

export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxEntries: MAX_BUNDLE_ENTRIES,
  maxTotalBytes: MAX_BUNDLE_BYTES,
  maxArtifactBytes: MAX_ARTIFACT_BYTES,
  maxProvenanceBytes: MAX_PROVENANCE_BYTES,
  maxEnvelopeBytes: MAX_ENVELOPE_BYTES,
  maxAttestationBytes: MAX_ATTESTATION_BYTES,
  maxLogBytes: MAX_LOG_BYTES,
};

/** Fills unspecified limits with the defaults. */
export function resolveBundleLimits(l?: Partial<BundleLimits>): BundleLimits {
  return { ...DEFAULT_BUNDLE_LIMITS, ...l };
}
