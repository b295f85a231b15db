/**
 * The two digests an EIF needs: SHA-384 for the PCRs and CRC-32 for the header check.
 *
 * Both are pluggable so that the measuring code stays runtime-neutral: the pure implementations
 * here run anywhere (a browser included); `./node.js` supplies node:crypto and zlib ones, which
 * are several times faster on large images.
 */
import { sha384 } from '@noble/hashes/sha2.js';
import { toHex } from '../util/hex.js';
import { crc32Table } from '../util/stream-digest.js';

/** An incremental SHA-384. */
export interface Sha384Hasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/** The digest functions used to measure and check an EIF. */
export interface EifHashing {
  sha384(): Sha384Hasher;
  /** CRC-32/ISO-HDLC (zlib's `crc32`) of `data`, continuing from `previous` (0 to start). */
  crc32(data: Uint8Array, previous: number): number;
}

/** CRC-32/ISO-HDLC, the `crc32::IEEE` / `CRC_32_ISO_HDLC` the EIF builder and reader use. */
export const crc32 = crc32Table;

/** Runtime-neutral hashing: @noble/hashes SHA-384 and a table CRC-32. */
export const pureHashing: EifHashing = {
  sha384: () => {
    const h = sha384.create();
    return {
      update: (data) => {
        h.update(data);
      },
      digest: () => h.digest(),
    };
  },
  crc32,
};

/** 48 zero bytes: the initial value of a PCR. */
export const ZERO_PCR = new Uint8Array(48);

/**
 * `SHA384(48 zero bytes || digest)`: extending a fresh PCR with the digest of some content
 * (aws-nitro-enclaves-image-format `src/defs/eif_hasher.rs`, `tpm_extend_finalize_reset`).
 */
export function extendFresh(digest: Uint8Array, hashing: EifHashing = pureHashing): Uint8Array {
  const h = hashing.sha384();
  h.update(ZERO_PCR);
  h.update(digest);
  return h.digest();
}

/** The PCR value measuring `content`: `SHA384(48 zero bytes || SHA384(content))`, in hex. */
export function measure(content: Uint8Array, hashing: EifHashing = pureHashing): string {
  const h = hashing.sha384();
  h.update(content);
  return toHex(extendFresh(h.digest(), hashing));
}
