/**
 * DSSE envelopes (DSSE envelope.md) in the one JSON form tee-compile writes:
 *
 *   {"payload":"<b64>","payloadType":"<type>","signatures":[{"keyid":"<id>","sig":"<b64>"}]}
 *
 * with standard padded base64 (RFC 4648 §4), no whitespace, no other fields. The parser is our own
 * and strict: the bytes must be exactly the encoding of what they decode to. That refuses
 * duplicate keys (which `JSON.parse` silently resolves), unknown fields and other spellings, so an
 * envelope in a bundle has one meaning for every reader. Attacker-controlled on the verify path.
 */
import { fromBase64, toBase64 } from '../util/encoding.js';
import { bytesEqual } from '../util/hex.js';
import { DsseError } from './errors.js';

/** The payload type of in-toto statements (in-toto attestation spec, envelope.md). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Largest envelope read (bytes). */
export const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;
/** Most signatures accepted in one envelope. */
export const MAX_ENVELOPE_SIGNATURES = 16;
/** Longest payload type and key id. */
export const MAX_ENVELOPE_TEXT = 256;

export interface DsseSignature {
  /** Names the key (tee-compile: hex SHA-256 of its SPKI DER); not trusted by itself. */
  keyid: string;
  /** DER ECDSA signature over PAE(payloadType, payload). */
  sig: Uint8Array;
}

export interface DsseEnvelope {
  payloadType: string;
  payload: Uint8Array;
  signatures: DsseSignature[];
}

const encoder = new TextEncoder();

/** The envelope's bytes in tee-compile's form. */
export function encodeEnvelope(env: DsseEnvelope): Uint8Array {
  const json = JSON.stringify({
    payload: toBase64(env.payload),
    payloadType: env.payloadType,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: toBase64(s.sig) })),
  });
  return encoder.encode(json);
}

function malformed(why: string, path?: string): DsseError {
  return new DsseError(
    'DSSE_MALFORMED',
    `the DSSE envelope ${why}`,
    path === undefined ? undefined : { path },
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length > MAX_ENVELOPE_TEXT)
    throw malformed(`has no string of at most ${MAX_ENVELOPE_TEXT} characters at ${path}`, path);
  return v;
}

function b64(v: unknown, path: string): Uint8Array {
  const out = typeof v === 'string' ? fromBase64(v) : null;
  if (out === null) throw malformed(`has no standard padded base64 at ${path}`, path);
  return out;
}

/** Parses an envelope (untrusted bytes) strictly; throws `DSSE_MALFORMED`. */
export function parseEnvelope(bytes: Uint8Array): DsseEnvelope {
  if (bytes.length > MAX_ENVELOPE_BYTES)
    throw malformed(`is ${bytes.length} bytes, more than the ${MAX_ENVELOPE_BYTES} allowed`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new DsseError('DSSE_MALFORMED', 'the DSSE envelope is not UTF-8 JSON', { cause: e });
  }
  if (!isObject(json)) throw malformed('is not a JSON object');
  const sigs = json.signatures;
  if (!Array.isArray(sigs) || sigs.length === 0 || sigs.length > MAX_ENVELOPE_SIGNATURES)
    throw malformed(`has no list of 1 to ${MAX_ENVELOPE_SIGNATURES} signatures`, 'signatures');
  const env: DsseEnvelope = {
    payloadType: text(json.payloadType, 'payloadType'),
    payload: b64(json.payload, 'payload'),
    signatures: sigs.map((s: unknown, i) => {
      const path = `signatures.${i}`;
      if (!isObject(s)) throw malformed(`has no object at ${path}`, path);
      return { keyid: text(s.keyid, `${path}.keyid`), sig: b64(s.sig, `${path}.sig`) };
    }),
  };
  // One spelling only: duplicate or unknown fields, whitespace and key order all show here.
  if (!bytesEqual(encodeEnvelope(env), bytes))
    throw malformed(
      'is not in canonical form (fields payload, payloadType, signatures[keyid, sig] in this order, no whitespace, nothing else)',
    );
  return env;
}
