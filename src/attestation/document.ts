/**
 * The attestation document payload (NSM API docs/attestation_process.md §2.2 and §3.2.2), decoded
 * strictly into an `AttestationDocument`.
 *
 * Unknown keys are refused (`DOC_FIELD_VALUE`): the specification lists the allowed fields
 * (§3.2.2.1), every genuine document carries exactly those nine, and a verifier that skipped
 * unknown keys would vouch for content it never looked at.
 */
import { kindName, type CborItem } from '../cbor/index.js';
import { decodeCbor } from './cbor.js';
import { decodeCoseSign1, type CoseSign1 } from './cose.js';
import { fail } from './errors.js';
import type { AttestationDocument } from './types.js';

/** `module_id` is non-empty text (§3.2.2.2); real ones are ~40 characters. */
export const MAX_MODULE_ID_LENGTH = 256;
/** Latest representable time (ECMAScript time values end at ±8.64e15 ms, ECMA-262 §21.4.1.1). */
export const MAX_TIMESTAMP_MS = 8.64e15;
/** PCR indexes are 0..31 (§2.2 `index = 0..31`). */
export const MAX_PCRS = 32;
/** A PCR holds a SHA-384 value: `digest` is always "SHA384" (§3.2.2.2), so 48 bytes. */
export const PCR_BYTES = 48;
/** A DER certificate is 1..1024 bytes (§2.2 `cert`). */
export const MAX_CERTIFICATE_BYTES = 1024;
/** Most certificates in `cabundle` (real documents carry 4: root, regional, zonal, instance). */
export const MAX_CABUNDLE_LENGTH = 8;
/**
 * `public_key`, `user_data` and `nonce` are 0..1024 bytes (§2.2 `user_data`). §3.2.2.2 says 512
 * for user_data and nonce, but the NSM accepts and signs 1024 (nsm-check.rs; blocky-nitrite docs).
 */
export const MAX_OPTIONAL_FIELD_BYTES = 1024;

const FIELDS = [
  'module_id',
  'digest',
  'timestamp',
  'pcrs',
  'certificate',
  'cabundle',
  'public_key',
  'user_data',
  'nonce',
] as const;
type Field = (typeof FIELDS)[number];
const KNOWN = new Set<string>(FIELDS);

/** A decoded document together with the COSE envelope it came in. */
export interface DecodedAttestation {
  cose: CoseSign1;
  document: AttestationDocument;
}

/** Decodes envelope and payload; the signature is not checked here. */
export function decodeAttestationParts(bytes: Uint8Array): DecodedAttestation {
  const cose = decodeCoseSign1(bytes);
  return { cose, document: decodePayload(cose.payload) };
}

/**
 * Decodes an AWS Nitro attestation document strictly (COSE_Sign1 envelope and payload) without
 * checking its signature or chain. Throws `AttestationError` on any violation.
 */
export function decodeAttestation(bytes: Uint8Array): AttestationDocument {
  return decodeAttestationParts(bytes).document;
}

/** Decodes the payload map (§2.2) with the checks of §3.2.2. */
export function decodePayload(payload: Uint8Array): AttestationDocument {
  const top = decodeCbor(payload, 'payload');
  if (top.kind !== 'map')
    fail('DOC_FIELD_TYPE', `the payload must be a map; got ${kindName(top.kind)}`, 'payload');
  const fields = new Map<Field, CborItem>();
  for (const [k, v] of top.entries) {
    if (k.kind !== 'text')
      fail(
        'DOC_FIELD_VALUE',
        `the payload has a key that is ${kindName(k.kind)}; keys are field names`,
        'payload',
      );
    if (!KNOWN.has(k.value))
      fail(
        'DOC_FIELD_VALUE',
        `the payload has an unknown field ${JSON.stringify(k.value)}`,
        `payload.${k.value}`,
      );
    fields.set(k.value as Field, v);
  }
  const get = (name: Field): CborItem => {
    const v = fields.get(name);
    // §3.2.2.1: mandatory fields must be present (and not null: see each check's type test).
    if (v === undefined) fail('DOC_FIELD_MISSING', `the payload has no ${name}`, `payload.${name}`);
    return v;
  };
  return {
    moduleId: moduleId(get('module_id')),
    digest: digest(get('digest')),
    timestamp: timestamp(get('timestamp')),
    pcrs: pcrs(get('pcrs')),
    certificate: bytesField(get('certificate'), 'payload.certificate', 1, MAX_CERTIFICATE_BYTES),
    cabundle: cabundle(get('cabundle')),
    publicKey: optional(fields.get('public_key'), 'public_key'),
    userData: optional(fields.get('user_data'), 'user_data'),
    nonce: optional(fields.get('nonce'), 'nonce'),
  };
}

function wrongType(path: string, expected: string, got: CborItem): never {
  return fail('DOC_FIELD_TYPE', `${path} must be ${expected}; got ${kindName(got.kind)}`, path);
}

function moduleId(v: CborItem): string {
  if (v.kind !== 'text') wrongType('payload.module_id', 'a text string', v);
  if (v.value.length === 0 || v.value.length > MAX_MODULE_ID_LENGTH)
    fail(
      'DOC_FIELD_SIZE',
      `payload.module_id is ${v.value.length} characters; it must be 1..${MAX_MODULE_ID_LENGTH}`,
      'payload.module_id',
    );
  return v.value;
}

function digest(v: CborItem): 'SHA384' {
  if (v.kind !== 'text') wrongType('payload.digest', 'a text string', v);
  // §3.2.2.2: digest ∈ {"SHA384"}.
  if (v.value !== 'SHA384')
    fail(
      'DOC_FIELD_VALUE',
      `payload.digest is ${JSON.stringify(v.value)}; only "SHA384" exists`,
      'payload.digest',
    );
  return 'SHA384';
}

function timestamp(v: CborItem): number {
  // §2.2: `uint .size 8`, milliseconds since the epoch; §3.2.2.2: > 0.
  if (v.kind !== 'uint') wrongType('payload.timestamp', 'an unsigned integer', v);
  if (typeof v.value !== 'number' || v.value > MAX_TIMESTAMP_MS)
    fail(
      'DOC_FIELD_VALUE',
      `payload.timestamp ${v.value} is beyond the last representable date`,
      'payload.timestamp',
    );
  if (v.value === 0)
    fail('DOC_FIELD_VALUE', 'payload.timestamp must be greater than 0', 'payload.timestamp');
  return v.value;
}

function pcrs(v: CborItem): Map<number, Uint8Array> {
  if (v.kind !== 'map') wrongType('payload.pcrs', 'a map', v);
  // §3.2.2.2: 1..32 entries.
  if (v.entries.length === 0 || v.entries.length > MAX_PCRS)
    fail(
      'DOC_FIELD_SIZE',
      `payload.pcrs has ${v.entries.length} entries; it must have 1..${MAX_PCRS}`,
      'payload.pcrs',
    );
  const out = new Map<number, Uint8Array>();
  for (const [k, value] of v.entries) {
    if (k.kind !== 'uint') wrongType('payload.pcrs', 'keyed by unsigned integers', k);
    const path = `payload.pcrs.${k.value}`;
    if (typeof k.value !== 'number' || k.value >= MAX_PCRS)
      fail(
        'DOC_FIELD_VALUE',
        `PCR index ${k.value} is out of range; indexes are 0..${MAX_PCRS - 1}`,
        path,
      );
    if (value.kind !== 'bytes') wrongType(path, 'a byte string', value);
    if (value.value.length !== PCR_BYTES)
      fail(
        'DOC_FIELD_SIZE',
        `${path} is ${value.value.length} bytes; a SHA-384 PCR is ${PCR_BYTES}`,
        path,
      );
    out.set(k.value, value.value.slice());
  }
  return out;
}

function cabundle(v: CborItem): Uint8Array[] {
  if (v.kind !== 'array') wrongType('payload.cabundle', 'an array', v);
  // §3.2.2.2: the CA bundle is not allowed to have 0 elements.
  if (v.items.length === 0 || v.items.length > MAX_CABUNDLE_LENGTH)
    fail(
      'DOC_FIELD_SIZE',
      `payload.cabundle has ${v.items.length} certificates; it must have 1..${MAX_CABUNDLE_LENGTH}`,
      'payload.cabundle',
    );
  return v.items.map((c, i) => bytesField(c, `payload.cabundle.${i}`, 1, MAX_CERTIFICATE_BYTES));
}

function bytesField(v: CborItem, path: string, min: number, max: number): Uint8Array {
  if (v.kind !== 'bytes') wrongType(path, 'a byte string', v);
  if (v.value.length < min || v.value.length > max)
    fail('DOC_FIELD_SIZE', `${path} is ${v.value.length} bytes; it must be ${min}..${max}`, path);
  return v.value.slice();
}

function optional(v: CborItem | undefined, name: string): Uint8Array | null {
  // Real documents carry every optional field, as null when unset (nitro-brief §2.2), although
  // §3.2.2.1 says no field is null; absent and null both mean "not set".
  if (v === undefined || v.kind === 'null') return null;
  const path = `payload.${name}`;
  if (v.kind !== 'bytes') wrongType(path, 'a byte string or null', v);
  return bytesField(v, path, 0, MAX_OPTIONAL_FIELD_BYTES);
}
