/**
 * Shapes of the attestation module's public face (see ./index.ts for the functions).
 *
 * The document layout follows the AWS Nitro Enclaves NSM API, docs/attestation_process.md §2-§3.
 */
import type { SignatureVerifier } from './crypto.js';
import type { AttestationErrorCode, NsmErrorCode } from './errors.js';

/** A decoded AWS Nitro attestation document (the COSE_Sign1 payload). */
export interface AttestationDocument {
  /** `module_id`, the enclave id, e.g. `i-0918f6c55e3b61d89-enc018aa8b8e2285d13`. */
  moduleId: string;
  /** `digest`; only `SHA384` exists. */
  digest: 'SHA384';
  /** `timestamp`, milliseconds since the Unix epoch (UTC). */
  timestamp: number;
  /** `pcrs`: index (0..31) -> value (32, 48 or 64 bytes; 48 in practice). */
  pcrs: Map<number, Uint8Array>;
  /** `certificate`: DER of the leaf certificate that signed the document. */
  certificate: Uint8Array;
  /** `cabundle`: DER certificates, root first. */
  cabundle: Uint8Array[];
  /** Optional fields: `null` when null or absent; may be present and empty. */
  publicKey: Uint8Array | null;
  userData: Uint8Array | null;
  nonce: Uint8Array | null;
}

/** A trust anchor: a self-signed root certificate that chains may end in. */
export interface TrustAnchor {
  /** Short stable name, e.g. `aws-nitro-root-g1` or `tee-compile-simulation`. */
  name: string;
  /** DER of the root certificate. */
  der: Uint8Array;
}

/** Options of `verifyAttestation`. Time, roots and expectations are parameters, never globals. */
export interface VerifyAttestationOptions {
  /** Trust anchors; default: the pinned AWS Nitro root G1 only. */
  trustAnchors?: TrustAnchor[];
  /**
   * Time at which certificate validity is checked, in ms since the epoch; default: the document's
   * own timestamp (so that stored documents keep verifying after the ~3 h leaf expires).
   */
  at?: number;
  /** The verifier's clock in ms, needed for `maxAgeSeconds`; documents from its future are refused. */
  now?: number;
  /** Expected PCR values by index (any of 0..31). */
  expectedPcrs?: Map<number, Uint8Array>;
  expectedNonce?: Uint8Array;
  expectedUserData?: Uint8Array;
  expectedPublicKey?: Uint8Array;
  /** Refuse documents older than this (relative to `now`). */
  maxAgeSeconds?: number;
  /** Accept debug-mode documents (PCR0 all zero). Default false. */
  allowDebug?: boolean;
  /** A cache of already verified intermediates shared between calls (see `ChainCache`). */
  cache?: ChainCache;
  /** How far the document's timestamp may lie after `now` (clock skew); default 0. */
  clockToleranceMs?: number;
  /** ECDSA P-384 implementation; default Web Crypto (see `SignatureVerifier`). */
  verifier?: SignatureVerifier;
}

/** Opaque cache of verified certificate links; create with `createChainCache()`. */
export interface ChainCache {
  readonly size: number;
  clear(): void;
}

export type VerifyAttestationResult =
  | {
      ok: true;
      document: AttestationDocument;
      /** The anchor the chain ended in (e.g. to tell simulated documents apart). */
      trustAnchor: TrustAnchor;
      /** PCR0 all zero. Only possible with `allowDebug`. */
      debug: boolean;
    }
  | {
      ok: false;
      code: AttestationErrorCode;
      path?: string;
      message: string;
    };

/** NSM API request (nitro-brief §1.2), as TypeScript data. */
export type NsmRequest =
  | { DescribePCR: { index: number } }
  | { ExtendPCR: { index: number; data: Uint8Array } }
  | { LockPCR: { index: number } }
  | { LockPCRs: { range: number } }
  | 'DescribeNSM'
  | {
      Attestation: {
        user_data: Uint8Array | null;
        nonce: Uint8Array | null;
        public_key: Uint8Array | null;
      };
    }
  | 'GetRandom';

/** NSM API response (nitro-brief §1.2). */
export type NsmResponse =
  | { DescribePCR: { lock: boolean; data: Uint8Array } }
  | { ExtendPCR: { data: Uint8Array } }
  | 'LockPCR'
  | 'LockPCRs'
  | {
      DescribeNSM: {
        version_major: number;
        version_minor: number;
        version_patch: number;
        module_id: string;
        max_pcrs: number;
        locked_pcrs: number[];
        digest: 'SHA384';
      };
    }
  | { Attestation: { document: Uint8Array } }
  | { GetRandom: { random: Uint8Array } }
  | { Error: NsmErrorCode };

/**
 * Anything that answers NSM requests: the real `/dev/nsm` (through the C helper) or the software
 * NSM. Requests and responses are CBOR bytes exactly as on the device.
 */
export interface NsmTransport {
  /** Sends one CBOR-encoded request and returns the CBOR-encoded response. */
  request(cbor: Uint8Array): Promise<Uint8Array>;
}
