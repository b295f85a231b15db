/**
 * The one signature primitive verification needs, ECDSA P-384 with SHA-384, behind an interface so
 * that a faster implementation can be injected (e.g. `nodeCryptoVerifier` from ./node-crypto.js)
 * while the default stays on Web Crypto and runs in browsers.
 */
import { bufferSource } from '../util/bytes.js';

/** ECDSA P-384 / SHA-384 verification. Keys are opaque to the caller. */
export interface SignatureVerifier {
  /**
   * Imports a P-384 public key. `spki` is its SubjectPublicKeyInfo DER, `point` the uncompressed
   * point (0x04 || X || Y) inside it; implementations use whichever imports faster. Rejects when
   * the point is not on the curve.
   */
  importP384Key(spki: Uint8Array, point: Uint8Array): Promise<unknown>;
  /** Verifies a raw r||s (96-byte) signature over `data` (hashed with SHA-384 here). */
  verifyP384Sha384(key: unknown, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
}

export { bufferSource };

const ECDSA_P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;

const ECDSA_SHA384 = { name: 'ECDSA', hash: 'SHA-384' } as const;

/** Web Crypto (`globalThis.crypto.subtle`): the default, available in browsers and Node >= 20. */
export const webCryptoVerifier: SignatureVerifier = {
  importP384Key(_spki, point) {
    // 'raw' import of the point is about four times faster than 'spki' in Node's Web Crypto.
    return globalThis.crypto.subtle.importKey('raw', bufferSource(point), ECDSA_P384, false, [
      'verify',
    ]);
  },
  verifyP384Sha384(key, signature, data) {
    return globalThis.crypto.subtle.verify(
      ECDSA_SHA384,
      key as CryptoKey,
      bufferSource(signature),
      bufferSource(data),
    );
  },
};
