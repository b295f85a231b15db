/**
 * DSSE pre-authentication encoding (DSSE protocol.md, "Signature definition"):
 *
 *   PAE(type, body) = "DSSEv1" + SP + LEN(type) + SP + type + SP + LEN(body) + SP + body
 *
 * LEN is the byte length as ASCII decimal without leading zeros; type is UTF-8. What is signed is
 * exactly these bytes, so the payload type cannot be swapped without breaking the signature.
 */
import { concatBytes } from '../util/bytes.js';

const encoder = new TextEncoder();

/** The PAE bytes of `payloadType` and `payload`. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${type.length} `);
  const mid = encoder.encode(` ${payload.length} `);
  return concatBytes([head, type, mid, payload]);
}
