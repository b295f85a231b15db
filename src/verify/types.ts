/**
 * Shapes of the verifier's public face: the trust policy (typed, built in one place from a policy
 * file, CLI flags, action inputs or agent config) and the results of verifying one or several
 * bundles. Results are data, never a bare boolean.
 */
import type { AttestationDocument, ChainCache } from '../attestation/index.js';
import type { BundleContents } from '../bundle/index.js';
import type { BundleLimits } from '../bundle/index.js';
import type { ProvenanceStatement } from '../provenance/index.js';
import type { TrustedImage } from '../contracts/index.js';
import type { RsaJwk } from '../oidc/index.js';
import type { VerifyErrorCode } from './errors.js';
import type { OriginFacts, OriginPolicy } from './origin-types.js';

export type { TrustedImage };

/** A builder: an organisation or account, identified by PCR3 (the IAM role of its Nitro hosts). */
export interface TrustedBuilder {
  name: string;
  /** Hex PCR3 (from `pcr3` in the policy, or computed from `iamRole` as AWS does). */
  pcr3: string;
  /** SPKI DER of the builder's signing key (policy `publicKey`): its bundles must be signed by it. */
  publicKey?: Uint8Array;
}

/** The typed policy every verification takes. */
export interface TrustPolicy {
  images: TrustedImage[];
  /** When given, only these builders count (and a single bundle must come from one of them). */
  builders?: TrustedBuilder[];
  /** Distinct trusted builders that must agree on the outputs (k of n). Default 1. */
  minBuilders: number;
  /** Refuse attestations older than this, relative to the verifier's clock. */
  maxAgeSeconds?: number;
  allowDebug: boolean;
  allowSimulated: boolean;
  source?: { repository?: string; commit?: string } & OriginPolicy;
  /** Expected nonce (hex), e.g. recomputed from a workflow run. */
  nonce?: string;
  /** Extra PCR expectations (index -> hex). */
  pcrs?: Map<number, string>;
  /** SPKI DER of a builder key every bundle must be signed with (`--builder-key FILE`). */
  builderKey?: Uint8Array;
}

/** Options that are not policy: the clock and the trust anchors (never read from globals). */
export interface VerifyOptions {
  /** The verifier's clock, ms since the epoch (for maxAgeSeconds and "not from the future"). */
  now: number;
  /** Bounds on each bundle read (defaults: the bundle module's `MAX_…`). */
  limits?: Partial<BundleLimits>;
  /** Verified certificate links shared between calls (e.g. over the bundles of one set). */
  cache?: ChainCache;
  /** OIDC signing keys trusted beyond the pinned GitHub set (`--oidc-jwks`). */
  oidcKeys?: readonly RsaJwk[];
}

/**
 * Describes how two versions of one file differ in depth (e.g. diffoscope's text report), or
 * returns null when it cannot. Supplied by the caller: the pure face runs no programs. `sides`
 * names the two versions in the report (`majority` and `dissent`, or `group-1` and `group-2` when
 * there is no majority).
 */
export type FileComparer = (
  path: string,
  majority: Uint8Array,
  dissent: Uint8Array,
  sides?: readonly [string, string],
) => Promise<string | null>;

/** Options of `verifyBundles`. */
export interface VerifySetOptions extends VerifyOptions {
  /** Deep comparison of differing files (the Node face offers diffoscope). */
  compare?: FileComparer;
}

export interface Subject {
  name: string;
  sha256: string;
}

/** A verified bundle. */
export interface BundleVerified {
  ok: true;
  /** Chains to the simulation root (only possible with allowSimulated). */
  simulated: boolean;
  /** Debug-mode enclave (PCR0 all zero; only possible with allowDebug): the image is not measured. */
  debug: boolean;
  subjects: Subject[];
  source: { repository: string | null; commit: string | null; tree: string };
  image: { name: string; version: string; pcr0: string; pcr1: string; pcr2: string };
  /** PCR3 (hex) and the policy's name for it when known. */
  builder: { pcr3: string; name: string | null };
  /** The builder key that signed provenance.json (`sha256:<hex>` of its SPKI), or null: no builder signature. */
  signature: { keyFingerprint: string } | null;
  nonce: string | null;
  /** Attestation timestamp, ms. */
  timestamp: number;
  statement: ProvenanceStatement;
  document: AttestationDocument;
  /** Signatures of the commit and tag, and the workflow token, as verified. */
  origin: OriginFacts;
}

export interface Refused {
  ok: false;
  code: VerifyErrorCode;
  path?: string;
  message: string;
  /** For BUNDLE_MALFORMED: the archive's or the layout's own code (e.g. `ARCHIVE_LINK`). */
  reason?: string;
  /**
   * Once the attestation's chain and signature hold (even when an expectation of it failed, and
   * for every refusal after it): whether it chains to the simulation root and whether it is a
   * debug-mode document, reported as on a pass.
   */
  simulated?: boolean;
  debug?: boolean;
}

/** A bundle that can be read more than once from its start (e.g. a file): each `open` streams it anew. */
export interface BundleFile {
  open(): AsyncIterable<Uint8Array>;
}

/** A bundle to verify: its bytes, a stream of them, a file to stream, or contents already read. */
export type BundleSource = Uint8Array | AsyncIterable<Uint8Array> | BundleFile | BundleContents;

/** A bundle with the name it is reported under (e.g. its file name). */
export interface NamedBundle {
  name: string;
  source: BundleSource;
}

export type BundleVerification = BundleVerified | Refused;

/**
 * One file that differs between the majority and a dissenting builder. With no majority,
 * `majority` is the first group's side.
 */
export interface FileDifference {
  path: string;
  majority: { sha256: string; size: number } | null;
  dissent: { sha256: string; size: number } | null;
  /** Short human summary of the first differences (text lines, archive members), when available. */
  summary?: string;
  /** diffoscope's text report, when diffoscope is installed. */
  diffoscope?: string;
}

/** Result over several bundles (k-of-n). */
export interface SetVerification {
  ok: boolean;
  code?: VerifyErrorCode;
  message: string;
  /** Bundles grouped by identical subject sets, largest first. */
  groups: { builders: string[]; subjects: Subject[]; bundles: string[] }[];
  /**
   * True when the first group has more distinct builders than any other (the majority). False when
   * groups tie for the most builders, or none verified: then nobody agrees.
   */
  majority: boolean;
  /** Builders (names or PCR3) of the majority, and of the others (everyone, with no majority). */
  agreeing: string[];
  dissenting: string[];
  /**
   * For each bundle outside the first group, the files that differ from the first group's (the
   * majority's when `majority`).
   */
  differences: { bundle: string; builder: string; files: FileDifference[] }[];
  /** Each bundle's own verification. */
  bundles: { bundle: string; result: BundleVerification }[];
  simulated: boolean;
  /** Things a reader should know that do not change the verdict (e.g. no builder list with k > 1). */
  warnings: string[];
}
