/**
 * CBOR codec of the NSM API messages (NSM API src/api/mod.rs `Request`/`Response`, serde's
 * externally tagged enums; nitro-brief §1.2): a unit variant is a bare text string
 * (`"DescribeNSM"`), a struct variant a one-entry map `{ "<Variant>": { field: value, … } }` with
 * fields in declaration order, byte fields as byte strings, `None` as null, errors as
 * `{ "Error": "<ErrorCode>" }`. Decoding is strict: every message must match the schema exactly.
 */
import { encodeCbor, kindName, type CborItem } from '../cbor/index.js';
import { decodeCbor } from './cbor.js';
import { fail, type NsmErrorCode } from './errors.js';
import type { NsmRequest, NsmResponse } from './types.js';

/** Largest request the device takes (Linux drivers/misc/nsm.c: 0x1000; larger is EMSGSIZE). */
export const MAX_NSM_REQUEST_BYTES = 0x1000;
/** Size of the device's response buffer (Linux drivers/misc/nsm.c: 0x3000). */
export const MAX_NSM_RESPONSE_BYTES = 0x3000;
/** `index` and `range` are u16 (src/api/mod.rs). */
const MAX_U16 = 0xffff;

const NSM_ERROR_CODES: ReadonlySet<string> = new Set<NsmErrorCode>([
  'InvalidArgument',
  'InvalidIndex',
  'InvalidResponse',
  'ReadOnlyIndex',
  'InvalidOperation',
  'BufferTooSmall',
  'InputTooLarge',
  'InternalError',
]);

function u16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > MAX_U16)
    throw new TypeError(`${what} must be an integer 0..65535`);
  return v;
}

/** CBOR bytes of an NSM request, exactly as the AWS library sends them. */
export function encodeNsmRequest(req: NsmRequest): Uint8Array {
  if (req === 'DescribeNSM' || req === 'GetRandom') return encodeCbor(req);
  if ('DescribePCR' in req)
    return encodeCbor({ DescribePCR: { index: u16(req.DescribePCR.index, 'index') } });
  if ('ExtendPCR' in req)
    return encodeCbor({
      ExtendPCR: { index: u16(req.ExtendPCR.index, 'index'), data: req.ExtendPCR.data },
    });
  if ('LockPCR' in req) return encodeCbor({ LockPCR: { index: u16(req.LockPCR.index, 'index') } });
  if ('LockPCRs' in req)
    return encodeCbor({ LockPCRs: { range: u16(req.LockPCRs.range, 'range') } });
  const a = req.Attestation;
  // The AWS library always sends the three keys, null when unset (nitro-brief §1.2).
  return encodeCbor({
    Attestation: { user_data: a.user_data, nonce: a.nonce, public_key: a.public_key },
  });
}

/** CBOR bytes of an NSM response, exactly as the device answers. */
export function encodeNsmResponse(resp: NsmResponse): Uint8Array {
  if (resp === 'LockPCR' || resp === 'LockPCRs') return encodeCbor(resp);
  if ('Error' in resp) return encodeCbor({ Error: resp.Error });
  if ('DescribePCR' in resp)
    return encodeCbor({
      DescribePCR: { lock: resp.DescribePCR.lock, data: resp.DescribePCR.data },
    });
  if ('ExtendPCR' in resp) return encodeCbor({ ExtendPCR: { data: resp.ExtendPCR.data } });
  if ('DescribeNSM' in resp) {
    const d = resp.DescribeNSM;
    return encodeCbor({
      DescribeNSM: {
        version_major: u16(d.version_major, 'version_major'),
        version_minor: u16(d.version_minor, 'version_minor'),
        version_patch: u16(d.version_patch, 'version_patch'),
        module_id: d.module_id,
        max_pcrs: u16(d.max_pcrs, 'max_pcrs'),
        locked_pcrs: d.locked_pcrs.map((i) => u16(i, 'locked_pcrs')),
        digest: d.digest,
      },
    });
  }
  if ('Attestation' in resp)
    return encodeCbor({ Attestation: { document: resp.Attestation.document } });
  return encodeCbor({ GetRandom: { random: resp.GetRandom.random } });
}

function bad(path: string, message: string): never {
  return fail('NSM_MESSAGE_MALFORMED', message, path);
}

/** The single `{ variant: body }` of a struct message, or the text of a unit message. */
function variant(top: CborItem, path: string): { name: string; body: CborItem | undefined } {
  if (top.kind === 'text') return { name: top.value, body: undefined };
  if (top.kind !== 'map' || top.entries.length !== 1)
    bad(path, `an NSM message is a text string or a map with one entry; got ${kindName(top.kind)}`);
  const [k, v] = top.entries[0]!;
  if (k.kind !== 'text')
    bad(path, `the message name must be a text string; got ${kindName(k.kind)}`);
  return { name: k.value, body: v };
}

/** The fields of a struct body: exactly `required` plus any of `optional`, nothing else. */
function fields(
  body: CborItem | undefined,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Map<string, CborItem> {
  if (body === undefined || body.kind !== 'map')
    bad(
      path,
      `${path} must be a map of fields; got ${body === undefined ? 'nothing' : kindName(body.kind)}`,
    );
  const out = new Map<string, CborItem>();
  for (const [k, v] of body.entries) {
    if (k.kind !== 'text' || (!required.includes(k.value) && !optional.includes(k.value)))
      bad(
        path,
        `${path} has an unexpected field ${k.kind === 'text' ? JSON.stringify(k.value) : kindName(k.kind)}`,
      );
    out.set(k.value, v);
  }
  for (const r of required) if (!out.has(r)) bad(`${path}.${r}`, `${path} has no field ${r}`);
  return out;
}

function uint16(v: CborItem, path: string): number {
  if (v.kind !== 'uint' || typeof v.value !== 'number' || v.value > MAX_U16)
    bad(path, `${path} must be an unsigned 16-bit integer`);
  return v.value;
}

function bytes(v: CborItem, path: string): Uint8Array {
  if (v.kind !== 'bytes') bad(path, `${path} must be a byte string; got ${kindName(v.kind)}`);
  return v.value.slice();
}

/** A PCR value: 32, 48 or 64 bytes (SHA-256, SHA-384 or SHA-512 NSMs). */
function pcrValue(v: CborItem, path: string): Uint8Array {
  const data = bytes(v, path);
  if (![32, 48, 64].includes(data.length))
    bad(path, `${path} is ${data.length} bytes; a PCR is 32, 48 or 64`);
  return data;
}

function text(v: CborItem, path: string): string {
  if (v.kind !== 'text') bad(path, `${path} must be a text string; got ${kindName(v.kind)}`);
  return v.value;
}

function optionalBytes(v: CborItem | undefined, path: string): Uint8Array | null {
  // serde deserialises a missing Option field as None; the QEMU NSM accepts omitted keys too.
  return v === undefined || v.kind === 'null' ? null : bytes(v, path);
}

/** Decodes an NSM request strictly; throws AttestationError (CBOR_* or NSM_MESSAGE_MALFORMED). */
export function decodeNsmRequest(cbor: Uint8Array): NsmRequest {
  if (cbor.length > MAX_NSM_REQUEST_BYTES)
    fail(
      'CBOR_LIMIT_EXCEEDED',
      `the request is ${cbor.length} bytes; the NSM takes at most ${MAX_NSM_REQUEST_BYTES}`,
      'request',
    );
  const { name, body } = variant(decodeCbor(cbor, 'request'), 'request');
  const p = `request.${name}`;
  switch (name) {
    case 'DescribeNSM':
    case 'GetRandom':
      if (body !== undefined) bad(p, `${name} takes no fields`);
      return name;
    case 'DescribePCR':
    case 'LockPCR': {
      const f = fields(body, p, ['index']);
      const index = uint16(f.get('index')!, `${p}.index`);
      return name === 'DescribePCR' ? { DescribePCR: { index } } : { LockPCR: { index } };
    }
    case 'ExtendPCR': {
      const f = fields(body, p, ['index', 'data']);
      return {
        ExtendPCR: {
          index: uint16(f.get('index')!, `${p}.index`),
          data: bytes(f.get('data')!, `${p}.data`),
        },
      };
    }
    case 'LockPCRs': {
      const f = fields(body, p, ['range']);
      return { LockPCRs: { range: uint16(f.get('range')!, `${p}.range`) } };
    }
    case 'Attestation': {
      const f = fields(body, p, [], ['user_data', 'nonce', 'public_key']);
      return {
        Attestation: {
          user_data: optionalBytes(f.get('user_data'), `${p}.user_data`),
          nonce: optionalBytes(f.get('nonce'), `${p}.nonce`),
          public_key: optionalBytes(f.get('public_key'), `${p}.public_key`),
        },
      };
    }
    default:
      return bad('request', `unknown NSM request ${JSON.stringify(name)}`);
  }
}

/** Decodes an NSM response strictly; throws AttestationError (CBOR_* or NSM_MESSAGE_MALFORMED). */
export function decodeNsmResponse(cbor: Uint8Array): NsmResponse {
  if (cbor.length > MAX_NSM_RESPONSE_BYTES)
    fail(
      'CBOR_LIMIT_EXCEEDED',
      `the response is ${cbor.length} bytes; the NSM sends at most ${MAX_NSM_RESPONSE_BYTES}`,
      'response',
    );
  const { name, body } = variant(decodeCbor(cbor, 'response'), 'response');
  const p = `response.${name}`;
  switch (name) {
    case 'LockPCR':
    case 'LockPCRs':
      if (body !== undefined) bad(p, `${name} carries no fields`);
      return name;
    case 'Error': {
      if (body === undefined) bad(p, 'Error needs a code');
      const code = text(body, p);
      if (!NSM_ERROR_CODES.has(code)) bad(p, `unknown NSM error code ${JSON.stringify(code)}`);
      return { Error: code as NsmErrorCode };
    }
    case 'DescribePCR': {
      const f = fields(body, p, ['lock', 'data']);
      const lock = f.get('lock')!;
      if (lock.kind !== 'bool') bad(`${p}.lock`, `${p}.lock must be a boolean`);
      const data = pcrValue(f.get('data')!, `${p}.data`);
      return { DescribePCR: { lock: lock.value, data } };
    }
    case 'ExtendPCR': {
      const f = fields(body, p, ['data']);
      const data = pcrValue(f.get('data')!, `${p}.data`);
      return { ExtendPCR: { data } };
    }
    case 'DescribeNSM': {
      const names = [
        'version_major',
        'version_minor',
        'version_patch',
        'module_id',
        'max_pcrs',
        'locked_pcrs',
        'digest',
      ];
      const f = fields(body, p, names);
      const locked = f.get('locked_pcrs')!;
      if (locked.kind !== 'array') bad(`${p}.locked_pcrs`, `${p}.locked_pcrs must be an array`);
      const lockedPcrs = locked.items.map((x, i) => uint16(x, `${p}.locked_pcrs.${i}`));
      // A BTreeSet<u16> serialises in ascending order without repeats.
      if (lockedPcrs.some((x, i) => i > 0 && x <= lockedPcrs[i - 1]!))
        bad(`${p}.locked_pcrs`, `${p}.locked_pcrs must be ascending without repeats`);
      const digest = text(f.get('digest')!, `${p}.digest`);
      if (digest !== 'SHA384')
        bad(`${p}.digest`, `${p}.digest is ${JSON.stringify(digest)}; expected "SHA384"`);
      return {
        DescribeNSM: {
          version_major: uint16(f.get('version_major')!, `${p}.version_major`),
          version_minor: uint16(f.get('version_minor')!, `${p}.version_minor`),
          version_patch: uint16(f.get('version_patch')!, `${p}.version_patch`),
          module_id: text(f.get('module_id')!, `${p}.module_id`),
          max_pcrs: uint16(f.get('max_pcrs')!, `${p}.max_pcrs`),
          locked_pcrs: lockedPcrs,
          digest,
        },
      };
    }
    case 'Attestation': {
      const f = fields(body, p, ['document']);
      return { Attestation: { document: bytes(f.get('document')!, `${p}.document`) } };
    }
    case 'GetRandom': {
      const f = fields(body, p, ['random']);
      return { GetRandom: { random: bytes(f.get('random')!, `${p}.random`) } };
    }
    default:
      return bad('response', `unknown NSM response ${JSON.stringify(name)}`);
  }
}
