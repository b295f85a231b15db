/**
 * A `SignatureVerifier` on node:crypto. Node-only, so it is not part of the module's public face
 * (which stays browser-capable); Node callers such as the CLI import it from this file.
 *
 * It verifies synchronously on the calling thread, which avoids Web Crypto's hop to the thread
 * pool per signature; bench/verify.ts measures the difference.
 */
import { KeyObject, verify } from 'node:crypto';
import { bufferSource, type SignatureVerifier } from './crypto.js';

const ECDSA_P384 = { name: 'ECDSA', namedCurve: 'P-384' } as const;

/** ECDSA P-384 / SHA-384 with node:crypto. */
export const nodeCryptoVerifier: SignatureVerifier = {
  async importP384Key(_spki, point) {
    // Web Crypto's raw point import is the fastest import Node offers (createPublicKey from SPKI
    // DER takes twice as long); the CryptoKey converts to a KeyObject without copying.
    const key = await globalThis.crypto.subtle.importKey(
      'raw',
      bufferSource(point),
      ECDSA_P384,
      false,
      ['verify'],
    );
    return KeyObject.from(key);
  },
  verifyP384Sha384(key, signature, data) {
    return Promise.resolve(
      verify('sha384', data, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, signature),
    );
  },
};
