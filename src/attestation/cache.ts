/**
 * Cache of CA certificates (cabundle entries and trust anchors) keyed by their exact DER bytes:
 * the parsed certificate, the issuers whose signature over it has been verified, and its public
 * key as imported by each `SignatureVerifier`. Everything cached is a pure function of the bytes,
 * so a hit can never change an outcome; validity times and constraints are checked on every call.
 */
import { bytesEqual } from '../util/hex.js';
import type { SignatureVerifier } from './crypto.js';
import type { ChainCache } from './types.js';
import { parseCertificate, type Certificate } from './x509.js';

/** Most certificates kept; beyond this the cache starts afresh. */
export const MAX_CHAIN_CACHE_ENTRIES = 1024;

/** A cached CA certificate. */
export interface CachedCertificate {
  cert: Certificate;
  /** Issuer entries whose signature over this certificate verified. */
  verifiedBy: Set<CachedCertificate>;
  /** Imported public key per verifier implementation. */
  keys: Map<SignatureVerifier, Promise<unknown>>;
}

/** FNV-1a over the bytes: a bucket index only; entries are matched byte for byte. */
function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

class ChainCacheImpl implements ChainCache {
  private readonly buckets = new Map<number, CachedCertificate[]>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  clear(): void {
    this.buckets.clear();
    this.count = 0;
  }

  /** The cached entry for `der`, parsing it (and raising CERT_MALFORMED at `path`) on a miss. */
  certificate(der: Uint8Array, path: string): CachedCertificate {
    const h = fnv1a(der);
    const bucket = this.buckets.get(h);
    const hit = bucket?.find((e) => bytesEqual(e.cert.der, der));
    if (hit !== undefined) return hit;
    const entry: CachedCertificate = {
      cert: parseCertificate(der.slice(), path),
      verifiedBy: new Set(),
      keys: new Map(),
    };
    if (this.count >= MAX_CHAIN_CACHE_ENTRIES) this.clear();
    const b = this.buckets.get(h);
    if (b === undefined) this.buckets.set(h, [entry]);
    else b.push(entry);
    this.count++;
    return entry;
  }
}

/** Internal view of a cache made by `createChainCache`. */
export type ChainCacheInternal = ChainCacheImpl;

/**
 * A cache of verified CA certificates to share between `verifyAttestation` calls. Documents from
 * the same host share their intermediates, so a cache turns five signature checks per document
 * into two (the leaf certificate and the document).
 */
export function createChainCache(): ChainCache {
  return new ChainCacheImpl();
}

/** The implementation behind a `ChainCache`, or a TypeError for a foreign object. */
export function internalCache(cache: ChainCache | undefined): ChainCacheInternal {
  if (cache === undefined) return new ChainCacheImpl();
  if (!(cache instanceof ChainCacheImpl))
    throw new TypeError('cache must come from createChainCache()');
  return cache;
}
