/**
 * Merkle Tree Hash of RFC 6962 §2.1 (unchanged in RFC 9162 §2.1.1) over SHA-256, with audit
 * paths (§2.1.1) and their verification (RFC 9162 §2.1.3.2). Leaf and interior hashes are domain
 * separated (0x00 / 0x01 prefixes) so that no leaf can pose as a node (second pre-image).
 * Pure: uses @noble/hashes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual } from '../../util/hex.js';

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** MTH({d}) = SHA-256(0x00 ‖ d). */
export function merkleLeafHash(data: Uint8Array): Uint8Array {
  return sha256.create().update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.create().update(NODE_PREFIX).update(left).update(right).digest();
}

/** The largest power of two smaller than n (n > 1): RFC 6962's split point k. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(hashes: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return hashes[lo]!;
  const k = split(n);
  return merkleNodeHash(mth(hashes, lo, lo + k), mth(hashes, lo + k, hi));
}

/** Merkle Tree Hash of the given leaf data; the empty tree hashes to SHA-256 of nothing. */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  return mth(leaves.map(merkleLeafHash), 0, leaves.length);
}

function path(hashes: readonly Uint8Array[], m: number, lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = split(n);
  if (m < k) return [...path(hashes, m, lo, lo + k), mth(hashes, lo + k, hi)];
  return [...path(hashes, m - k, lo + k, hi), mth(hashes, lo, lo + k)];
}

/** The audit path PATH(index, D[n]) of RFC 6962 §2.1.1, from the leaf up. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(
      `merkleProof: index ${index} is outside a tree of ${leaves.length} leaves`,
    );
  }
  return path(leaves.map(merkleLeafHash), index, 0, leaves.length);
}

/**
 * Checks that `leafData` is leaf `index` of a tree of `treeSize` leaves with root `root`, given
 * its audit path (RFC 9162 §2.1.3.2). Returns false for any mismatch, including a path of the
 * wrong length or an index outside the tree.
 */
export function verifyMerkleProof(
  leafData: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize)) return false;
  if (index < 0 || index >= treeSize) return false;
  // BigInt keeps the bit arithmetic exact for sizes above 2^31.
  let fn = BigInt(index);
  let sn = BigInt(treeSize - 1);
  let r = merkleLeafHash(leafData);
  for (const p of proof) {
    if (p.length !== 32 || sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = merkleNodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = merkleNodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && bytesEqual(r, root);
}
