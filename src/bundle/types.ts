/**
 * The bundle: one `.tar.gz` per build holding everything a verifier needs.
 *
 *   provenance.json     the in-toto statement (exact bytes hashed into the attestation's user_data)
 *   provenance.dsse.json  optional: DSSE envelope of provenance.json signed by the builder key
 *   attestation.cbor    the Nitro attestation document (COSE_Sign1)
 *   build.log           the build's log (its sha256 is a byproduct in the provenance)
 *   artifacts/<path>    every output, at the path named by its provenance subject
 */

export const BUNDLE_PROVENANCE = 'provenance.json';
/** Optional, right after provenance.json: the builder key's DSSE envelope over its exact bytes. */
export const BUNDLE_ENVELOPE = 'provenance.dsse.json';
export const BUNDLE_ATTESTATION = 'attestation.cbor';
export const BUNDLE_LOG = 'build.log';
export const BUNDLE_ARTIFACTS_DIR = 'artifacts';

/** The fixed members' bytes, one field per row of `FIXED_MEMBERS` (./members.ts). */
export interface BundleFixedFields {
  /** Exact bytes of provenance.json. */
  provenance: Uint8Array;
  /** Exact bytes of provenance.dsse.json, when the builder signed (a sealed builder key). */
  envelope?: Uint8Array;
  /** Exact bytes of attestation.cbor. */
  attestation: Uint8Array;
  /** Bytes of build.log. */
  log: Uint8Array;
}

/** A bundle read into memory. */
export interface BundleContents extends BundleFixedFields {
  /** Artifacts by subject name (path under `artifacts/`). */
  artifacts: Map<string, Uint8Array>;
}

/** An artifact to write: its subject name and where its bytes come from. */
export interface BundleArtifactInput {
  /** Subject name = path relative to the source root, e.g. `target/release/hello`. */
  name: string;
  /** A file on disk, or bytes. */
  file?: string;
  bytes?: Uint8Array;
  executable?: boolean;
}

/** What `writeBundle` (Node) and `encodeBundle` (pure, bytes only) write. */
export interface BundleWriteInput extends BundleFixedFields {
  artifacts: BundleArtifactInput[];
}
