/** SHA-256 through Web Crypto, so that the verify path also runs in browsers. */
import { toHex } from '../util/hex.js';

/** SHA-256 of `bytes`. */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  // Web Crypto takes ArrayBuffer-backed views; our buffers always are (no SharedArrayBuffer).
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes));
}
