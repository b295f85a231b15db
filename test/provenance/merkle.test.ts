import { describe, expect, it } from '@jest/globals';
import { fromHex, toHex } from '../../src/util/hex.js';
import {
  merkleLeafHash,
  merkleProof,
  merkleRoot,
  verifyMerkleProof,
} from '../../src/provenance/index.js';

// Certificate Transparency reference leaves and tree heads for RFC 6962 (the same vectors as
// certificate-transparency's merkle_tree_test.cc and transparency-dev/merkle's testonly data).
const LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => fromHex(h));
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// Audit paths of the same tree of 8 leaves (RFC 6962 §2.1.1), leaf indices from 0.
const PATHS: { index: number; path: string[] }[] = [
  {
    index: 0,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

describe('RFC 6962 §2.1 Merkle Tree Hash', () => {
  it('when the tree is empty, its root is SHA-256 of the empty string', () => {
    expect(toHex(merkleRoot([]))).toBe(ROOTS[0]);
  });

  it('when hashing the reference leaves, it gives the Certificate Transparency roots for every size 1..8', () => {
    for (let n = 1; n <= LEAVES.length; n++) {
      expect(toHex(merkleRoot(LEAVES.slice(0, n)))).toBe(ROOTS[n]);
    }
  });

  it('when a leaf is hashed, it is prefixed with 0x00 (a leaf cannot pose as a node)', () => {
    expect(toHex(merkleLeafHash(new Uint8Array(0)))).toBe(ROOTS[1]);
    const a = merkleLeafHash(LEAVES[0]!);
    const b = merkleLeafHash(LEAVES[1]!);
    // Two leaves whose concatenated hashes are given as one leaf do not reproduce the node.
    expect(toHex(merkleRoot([new Uint8Array([...a, ...b])]))).not.toBe(ROOTS[2]);
  });
});

describe('RFC 6962 §2.1.1 audit paths', () => {
  it('when asked for the reference leaves, it returns the reference paths', () => {
    for (const { index, path } of PATHS) {
      expect(merkleProof(LEAVES, index).map(toHex)).toEqual(path);
    }
  });

  it('when verifying every leaf of every tree size up to 40, each proof verifies', () => {
    const leaves = Array.from({ length: 40 }, (_, i) => new Uint8Array([i, i * 3, 7]));
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n);
      const root = merkleRoot(tree);
      for (let i = 0; i < n; i++) {
        expect(verifyMerkleProof(tree[i]!, i, n, merkleProof(tree, i), root)).toBe(true);
      }
    }
  });

  it('when anything is wrong (leaf, index, size, path, root), verification fails', () => {
    const root = fromHex(ROOTS[8]!);
    const path = merkleProof(LEAVES, 5);
    const leaf = LEAVES[5]!;
    expect(verifyMerkleProof(leaf, 5, 8, path, root)).toBe(true);
    expect(verifyMerkleProof(LEAVES[4]!, 5, 8, path, root)).toBe(false);
    expect(verifyMerkleProof(leaf, 4, 8, path, root)).toBe(false);
    expect(verifyMerkleProof(leaf, 5, 9, path, root)).toBe(false);
    expect(verifyMerkleProof(leaf, 8, 8, path, root)).toBe(false);
    expect(verifyMerkleProof(leaf, -1, 8, path, root)).toBe(false);
    expect(verifyMerkleProof(leaf, 5, 8, path.slice(0, 2), root)).toBe(false);
    expect(verifyMerkleProof(leaf, 5, 8, [...path, path[0]!], root)).toBe(false);
    const bent = path.map((p) => p.slice());
    bent[1]![0]! ^= 1;
    expect(verifyMerkleProof(leaf, 5, 8, bent, root)).toBe(false);
    expect(verifyMerkleProof(leaf, 5, 8, path, fromHex(ROOTS[7]!))).toBe(false);
    expect(
      verifyMerkleProof(
        leaf,
        5,
        8,
        path.map((p) => p.subarray(1)),
        root,
      ),
    ).toBe(false);
  });

  it('when the index is outside the tree, merkleProof throws a RangeError', () => {
    expect(() => merkleProof(LEAVES, 8)).toThrow(RangeError);
    expect(() => merkleProof([], 0)).toThrow(RangeError);
  });
});
