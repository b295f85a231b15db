/**
 * Incremental SHA-256 and CRC-32 for streams, runtime-neutral. Web Crypto has no incremental
 * digest, so browsers get @noble/hashes and a table CRC-32; on Node the native ones are found at
 * run time through `process.getBuiltinModule` (Node >= 20.16), so that nothing Node-only is
 * imported and the verify path still bundles for browsers, while a 4 GiB bundle hashes at native
 * speed.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** An incremental hash. */
export interface StreamHash {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

interface NodeCrypto {
  createHash(alg: 'sha256'): { update(d: Uint8Array): unknown; digest(): Uint8Array };
}
interface NodeZlibCrc {
  crc32?: (data: Uint8Array, value?: number) => number;
}

/** A built-in module of the running Node, or undefined in other runtimes. */
export function nodeBuiltin<T>(id: string): T | undefined {
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const get = p?.getBuiltinModule;
  return typeof get === 'function' ? (get.call(p, id) as T | undefined) : undefined;
}

const nodeCrypto = nodeBuiltin<NodeCrypto>('node:crypto');

/** A new incremental SHA-256 (native on Node, @noble/hashes elsewhere). */
export function createSha256(): StreamHash {
  if (nodeCrypto !== undefined) {
    const h = nodeCrypto.createHash('sha256');
    return {
      update: (d) => void h.update(d),
      digest: () => new Uint8Array(h.digest()),
    };
  }
  const h = sha256.create();
  return { update: (d) => void h.update(d), digest: () => h.digest() };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32/ISO-HDLC (zlib's `crc32`, gzip's trailer) of `data`, continuing from `previous`. */
export function crc32Table(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const nativeCrc = nodeBuiltin<NodeZlibCrc>('node:zlib')?.crc32;

/**
 * CRC-32 as `crc32Table`, native where the runtime has it (Node's zlib). An empty piece leaves
 * the CRC as it was, and is not passed on: Node's gives 0 for some empty views (`Buffer.from('')`
 * and views of it: zlib's `crc32` given no memory at all), which restarted the sum mid-stream.
 */
export const crc32: (data: Uint8Array, previous?: number) => number =
  nativeCrc === undefined
    ? crc32Table
    : (d, p = 0) => (d.length === 0 ? p >>> 0 : nativeCrc(d, p) >>> 0);
