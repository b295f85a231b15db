/**
 * The EIF signature section: a PCR0 signature by the image's signing certificate (PCR8).
 *
 * Layout (aws-nitro-enclaves-image-format `src/defs/mod.rs` `PcrSignature`, `PcrInfo`; written by
 * `EifBuilder::generate_eif_signature`, read by `EifReader::get_certificate_info`): serde_cbor of
 * `Vec<PcrSignature>` without serde_bytes, so byte vectors are CBOR arrays of small uints:
 *
 *   [ { "signing_certificate": [u8... PEM text], "signature": [u8... untagged COSE_Sign1] } ]
 *   COSE_Sign1 payload = { "register_index": 0, "register_value": [u8 x 48 = PCR0] }
 *
 * The COSE_Sign1 follows aws-nitro-enclaves-cose `src/sign.rs`: protected header `{1: alg}` with the
 * algorithm fixed by the key's curve (P-256/ES256, P-384/ES384, P-521/ES512), empty unprotected
 * map, raw r||s signature over `["Signature1", protected, h'', payload]`.
 */
import type { X509Certificate } from '../util/x509.js';
import type { SigningCertificateInfo } from './certificate.js';
import { certificateInfo } from './certificate.js';
import { bytesEqual, fromHex } from '../util/hex.js';
import { encodeCbor, type CborValue as CborEncodable } from '../cbor/index.js';
import {
  COSE_ALGORITHMS,
  pemBlocks,
  protectedAlg,
  sigStructure,
  splitCoseSign1,
  type CoseAlgorithm,
} from '../cose/index.js';
import type { CborValue } from './cbor.js';
import { decodeCbor, decodeCborItem } from './cbor.js';
import { EifError } from './errors.js';

/** Largest signature section nitro-cli accepts (EIF README "EifSectionSignature"). */
export const MAX_SIGNATURE_SECTION_SIZE = 32768;
/** Most PCR signatures we read from one section (nitro-cli writes one, and reads only the first). */
export const MAX_PCR_SIGNATURES = 32;

const CURVES: Record<string, { alg: CoseAlgorithm; hash: string; keyLength: number }> = {
  'P-256': { alg: 'ES256', hash: 'SHA-256', keyLength: 32 },
  'P-384': { alg: 'ES384', hash: 'SHA-384', keyLength: 48 },
  'P-521': { alg: 'ES512', hash: 'SHA-512', keyLength: 66 },
};

/** One entry of the signature section. */
export interface PcrSignature {
  /** PEM text of the signing certificate, as stored. */
  signingCertificate: Uint8Array;
  /** Bytes of the COSE_Sign1 (untagged as written by nitro-cli; tag 18 accepted). */
  signature: Uint8Array;
}

const SECTION = 'signature';

function bad(path: string, msg: string, cause?: unknown): EifError {
  return new EifError('BAD_SIGNATURE_SECTION', `${path}: ${msg}`, { path, cause });
}

function byteArray(v: CborValue | undefined, path: string): Uint8Array {
  if (!Array.isArray(v)) throw bad(path, 'must be an array of byte values');
  if (v.length === 0) throw bad(path, 'must not be empty');
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const b = v[i];
    if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255)
      throw bad(`${path}.${i}`, 'must be an integer 0..255');
    out[i] = b;
  }
  return out;
}

/** Decodes a signature section (at most {@link MAX_SIGNATURE_SECTION_SIZE} bytes). */
export function decodeSignatureSection(bytes: Uint8Array): PcrSignature[] {
  if (bytes.length > MAX_SIGNATURE_SECTION_SIZE)
    throw new EifError(
      'SECTION_TOO_LARGE',
      `signature section is ${bytes.length} bytes, more than ${MAX_SIGNATURE_SECTION_SIZE}`,
      { path: SECTION },
    );
  const top = decodeCbor(bytes, SECTION);
  if (!Array.isArray(top)) throw bad(SECTION, 'must be a CBOR array of PCR signatures');
  if (top.length === 0) throw bad(SECTION, 'holds no PCR signature');
  if (top.length > MAX_PCR_SIGNATURES)
    throw bad(SECTION, `holds ${top.length} PCR signatures, more than ${MAX_PCR_SIGNATURES}`);
  return top.map((entry, i) => {
    const path = `${SECTION}.${i}`;
    if (!(entry instanceof Map)) throw bad(path, 'must be a map');
    for (const k of entry.keys())
      if (k !== 'signing_certificate' && k !== 'signature')
        throw bad(path, `unexpected key ${JSON.stringify(k)}`);
    return {
      signingCertificate: byteArray(
        entry.get('signing_certificate'),
        `${path}.signing_certificate`,
      ),
      signature: byteArray(entry.get('signature'), `${path}.signature`),
    };
  });
}

/** Encodes a signature section as serde_cbor writes `Vec<PcrSignature>`. */
export function encodeSignatureSection(entries: PcrSignature[]): Uint8Array {
  return encodeCbor(
    entries.map(
      (e) =>
        new Map<string, CborEncodable>([
          ['signing_certificate', Array.from(e.signingCertificate)],
          ['signature', Array.from(e.signature)],
        ]),
    ),
  );
}

/** The COSE payload signing a PCR: serde_cbor of `PcrInfo { register_index, register_value }`. */
export function encodePcrPayload(index: number, value: Uint8Array): Uint8Array {
  return encodeCbor(
    new Map<string, CborEncodable>([
      ['register_index', index],
      ['register_value', Array.from(value)],
    ]),
  );
}

/** DER bytes of the first `CERTIFICATE` block of PEM text (OpenSSL's `X509::from_pem` reads the first). */
export function pemToDer(pem: Uint8Array | string, path = 'certificate'): Uint8Array {
  let blocks: Uint8Array[];
  try {
    blocks = pemBlocks(pem, 'CERTIFICATE');
  } catch (e) {
    throw bad(path, 'PEM body is not base64', e);
  }
  if (blocks.length === 0) throw bad(path, 'holds no PEM CERTIFICATE block');
  return blocks[0]!;
}

/** A parsed COSE_Sign1. */
interface CoseSign1 {
  protectedHeader: Uint8Array;
  alg: number | undefined;
  payload: Uint8Array;
  signature: Uint8Array;
}

function decodeCoseSign1(bytes: Uint8Array, path: string): CoseSign1 {
  const split = splitCoseSign1(decodeCborItem(bytes, path));
  if (!split.ok) {
    const where = split.error.path === 'document' ? path : `${path}.${split.error.path}`;
    throw bad(where, split.error.message);
  }
  const { protectedBytes, payload, signature } = split.parts;
  if (payload === null) throw bad(`${path}.payload`, 'must be a byte string');
  let alg: number | undefined;
  if (protectedBytes.length > 0) {
    // empty_or_serialized_map (RFC 8152 §3); aws-nitro-enclaves-cose refuses anything else.
    const h = decodeCborItem(protectedBytes, `${path}.protected`);
    if (h.kind !== 'map') throw bad(`${path}.protected`, 'must hold a CBOR map');
    const a = protectedAlg(h);
    if (a !== undefined && a.kind !== 'uint' && a.kind !== 'nint')
      throw bad(`${path}.protected.1`, 'algorithm must be an integer');
    alg = a === undefined ? undefined : Number(a.value);
  }
  return { protectedHeader: protectedBytes, alg, payload, signature };
}

/** The outcome of checking the signature section against the measured PCR0. */
export interface SignatureInspection {
  /** DER of the signing certificate (what PCR8 measures). */
  certificateDer: Uint8Array;
  certificate: SigningCertificateInfo;
  /** describe-eif's `SignatureCheck`: the COSE signature verifies and signs this PCR0. */
  check: boolean;
  /** Why `check` is false. */
  reason?: string;
}

/**
 * Parses the signature section and checks its first PCR signature against `pcr0` (hex), as
 * `EifReader::get_certificate_info` does. Structural damage throws `BAD_SIGNATURE_SECTION`; a
 * signature that does not verify or signs another value gives `check: false`.
 */
export async function inspectSignatureSection(
  bytes: Uint8Array,
  pcr0: string,
): Promise<SignatureInspection> {
  const entries = decodeSignatureSection(bytes);
  // nitro-cli uses only the first entry (PCR0) for PCR8 and SignatureCheck.
  const first = entries[0]!;
  const certPath = `${SECTION}.0.signing_certificate`;
  const certificateDer = pemToDer(first.signingCertificate, certPath);
  let cert: X509Certificate;
  let info: SigningCertificateInfo;
  try {
    // Loaded on demand: only signed images need the X.509 library.
    const x509 = await import('../util/x509.js');
    cert = new x509.X509Certificate(new Uint8Array(certificateDer));
    info = certificateInfo(cert);
  } catch (e) {
    throw bad(certPath, `not an X.509 certificate (${(e as Error).message})`, e);
  }
  const cose = decodeCoseSign1(first.signature, `${SECTION}.0.signature`);
  const result = (check: boolean, reason?: string): SignatureInspection =>
    reason === undefined
      ? { certificateDer, certificate: info, check }
      : { certificateDer, certificate: info, check, reason };

  const keyAlg = cert.publicKey.algorithm as { name?: string; namedCurve?: string };
  const curve = keyAlg.name === 'ECDSA' ? CURVES[keyAlg.namedCurve ?? ''] : undefined;
  if (curve === undefined)
    return result(false, 'the signing certificate does not hold a P-256/P-384/P-521 key');
  if (cose.alg !== COSE_ALGORITHMS[curve.alg])
    return result(false, `the COSE algorithm is not ${curve.alg}, the one of the certificate key`);
  if (cose.signature.length !== 2 * curve.keyLength)
    return result(false, `the signature is not ${2 * curve.keyLength} bytes`);
  let ok: boolean;
  try {
    const key = await crypto.subtle.importKey(
      'spki',
      cert.publicKey.rawData,
      { name: 'ECDSA', namedCurve: keyAlg.namedCurve! },
      false,
      ['verify'],
    );
    ok = await crypto.subtle.verify(
      { name: 'ECDSA', hash: curve.hash },
      key,
      new Uint8Array(cose.signature),
      new Uint8Array(sigStructure(cose.protectedHeader, cose.payload)),
    );
  } catch (e) {
    throw bad(certPath, `unusable public key (${(e as Error).message})`, e);
  }
  if (!ok) return result(false, 'the COSE signature does not verify with the signing certificate');
  // describe-eif compares the payload bytes with serde_cbor of PcrInfo { 0, PCR0 }.
  if (!bytesEqual(cose.payload, encodePcrPayload(0, fromHex(pcr0))))
    return result(false, 'the signature does not sign PCR0 of this image');
  return result(true);
}
