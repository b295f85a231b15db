import { describe, expect, it } from '@jest/globals';
import {
  MAX_NSM_REQUEST_BYTES,
  decodeNsmRequest,
  decodeNsmResponse,
  encodeNsmRequest,
  encodeNsmResponse,
  type NsmRequest,
  type NsmResponse,
} from '../../src/attestation/index.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { fromHex, toHex } from '../../src/util/hex.js';

describe('NSM request encoding (nitro-brief §1.2 examples)', () => {
  it('when encoding "DescribeNSM", it gives 6b44657363726962654e534d', () => {
    expect(toHex(encodeNsmRequest('DescribeNSM'))).toBe('6b44657363726962654e534d');
  });

  it('when encoding DescribePCR index 16, it gives a16b4465736372696265504352a165696e64657810', () => {
    expect(toHex(encodeNsmRequest({ DescribePCR: { index: 16 } }))).toBe(
      'a16b4465736372696265504352a165696e64657810',
    );
  });

  it('when encoding an Attestation with only a nonce, it sends all three keys, null when unset', () => {
    const req: NsmRequest = {
      Attestation: { user_data: null, nonce: fromHex('0102'), public_key: null },
    };
    expect(toHex(encodeNsmRequest(req))).toBe(
      'a16b4174746573746174696f6ea369757365725f64617461f6656e6f6e63654201026a7075626c69635f6b6579f6',
    );
  });

  it('when an index is outside u16, encoding throws a TypeError (a caller mistake)', () => {
    expect(() => encodeNsmRequest({ DescribePCR: { index: 65536 } })).toThrow(TypeError);
    expect(() => encodeNsmRequest({ LockPCRs: { range: -1 } })).toThrow(TypeError);
  });
});

const REQUESTS: NsmRequest[] = [
  'DescribeNSM',
  'GetRandom',
  { DescribePCR: { index: 3 } },
  { ExtendPCR: { index: 16, data: fromHex('616263') } },
  { LockPCR: { index: 17 } },
  { LockPCRs: { range: 20 } },
  { Attestation: { user_data: fromHex('01'), nonce: null, public_key: new Uint8Array(0) } },
];

const RESPONSES: NsmResponse[] = [
  'LockPCR',
  'LockPCRs',
  { Error: 'InvalidIndex' },
  { DescribePCR: { lock: true, data: new Uint8Array(48).fill(1) } },
  { ExtendPCR: { data: new Uint8Array(48).fill(2) } },
  {
    DescribeNSM: {
      version_major: 1,
      version_minor: 0,
      version_patch: 0,
      module_id: 'i-0123-enc4567',
      max_pcrs: 32,
      locked_pcrs: [0, 1, 2, 15],
      digest: 'SHA384',
    },
  },
  { Attestation: { document: fromHex('8444a1013822a0') } },
  { GetRandom: { random: new Uint8Array(256).fill(9) } },
];

describe('NSM codec round trips', () => {
  it.each(
    REQUESTS.map((r): [string, NsmRequest] => [
      JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v)),
      r,
    ]),
  )('when a request %s is encoded and decoded, it is unchanged', (_name, req) => {
    expect(decodeNsmRequest(encodeNsmRequest(req))).toEqual(req);
  });

  it.each(
    RESPONSES.map((r): [string, NsmResponse] => [
      JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? v.length : v)),
      r,
    ]),
  )('when a response %s is encoded and decoded, it is unchanged', (_name, resp) => {
    expect(decodeNsmResponse(encodeNsmResponse(resp))).toEqual(resp);
  });

  it('when encoding responses, the bytes are those of the device (serde field order)', () => {
    expect(toHex(encodeNsmResponse({ Error: 'InvalidIndex' }))).toBe(
      toHex(encodeCbor({ Error: 'InvalidIndex' })),
    );
    expect(toHex(encodeNsmResponse('LockPCR'))).toBe('674c6f636b504352');
    const pcr = toHex(
      encodeNsmResponse({ DescribePCR: { lock: false, data: new Uint8Array(48) } }),
    );
    expect(pcr.startsWith('a16b4465736372696265504352a2646c6f636bf46464617461')).toBe(true);
  });

  it('when an Attestation request omits its keys, they decode as null (as serde and QEMU accept)', () => {
    expect(decodeNsmRequest(encodeCbor({ Attestation: {} }))).toEqual({
      Attestation: { user_data: null, nonce: null, public_key: null },
    });
  });
});

describe('NSM codec refusals', () => {
  it.each([
    ['an unknown unit request', encodeCbor('Reboot'), 'NSM_MESSAGE_MALFORMED'],
    ['an unknown struct request', encodeCbor({ Reboot: {} }), 'NSM_MESSAGE_MALFORMED'],
    [
      'a map with two requests',
      encodeCbor({ DescribeNSM: null, GetRandom: null }),
      'NSM_MESSAGE_MALFORMED',
    ],
    ['a unit request with a body', encodeCbor({ DescribeNSM: {} }), 'NSM_MESSAGE_MALFORMED'],
    ['a struct request without a body', encodeCbor('DescribePCR'), 'NSM_MESSAGE_MALFORMED'],
    ['an index as text', encodeCbor({ DescribePCR: { index: '3' } }), 'NSM_MESSAGE_MALFORMED'],
    ['an index over u16', encodeCbor({ DescribePCR: { index: 65536 } }), 'NSM_MESSAGE_MALFORMED'],
    ['a missing index', encodeCbor({ LockPCR: {} }), 'NSM_MESSAGE_MALFORMED'],
    ['an extra field', encodeCbor({ LockPCR: { index: 1, force: true } }), 'NSM_MESSAGE_MALFORMED'],
    [
      'extend data as text',
      encodeCbor({ ExtendPCR: { index: 16, data: 'abc' } }),
      'NSM_MESSAGE_MALFORMED',
    ],
    ['a nonce as an array', encodeCbor({ Attestation: { nonce: [1] } }), 'NSM_MESSAGE_MALFORMED'],
    ['a top-level integer', encodeCbor(7), 'NSM_MESSAGE_MALFORMED'],
    ['a trailing byte', fromHex('6b44657363726962654e534d00'), 'CBOR_TRAILING_BYTES'],
    [
      'a repeated field',
      fromHex('a1674c6f636b504352a265696e6465780165696e64657802'),
      'CBOR_DUPLICATE_KEY',
    ],
    ['truncated CBOR', fromHex('a16b446573'), 'CBOR_MALFORMED'],
    ['more than 4096 bytes', new Uint8Array(MAX_NSM_REQUEST_BYTES + 1), 'CBOR_LIMIT_EXCEEDED'],
  ])('when a request is %s, decoding refuses with %s', (_what, bytes, code) => {
    expect(() => decodeNsmRequest(bytes)).toThrowWithCode(code);
  });

  it.each([
    ['the error code Success', encodeCbor({ Error: 'Success' })],
    ['an unknown error code', encodeCbor({ Error: 'Oops' })],
    ['an error without a code', encodeCbor('Error')],
    [
      'a lock that is not a boolean',
      encodeCbor({ DescribePCR: { lock: 1, data: new Uint8Array(48) } }),
    ],
    ['a PCR of 47 bytes', encodeCbor({ ExtendPCR: { data: new Uint8Array(47) } })],
    [
      'locked PCRs out of order',
      encodeNsmResponse(RESPONSES[5]!).map((b, i, a) => (i === a.indexOf(0x0f) ? 0x01 : b)),
    ],
    [
      'another digest',
      encodeCbor({
        DescribeNSM: {
          version_major: 1,
          version_minor: 0,
          version_patch: 0,
          module_id: 'm',
          max_pcrs: 32,
          locked_pcrs: [],
          digest: 'SHA256',
        },
      }),
    ],
    ['a document as text', encodeCbor({ Attestation: { document: 'x' } })],
    ['an unknown response', encodeCbor({ Reboot: { ok: true } })],
  ])('when a response has %s, decoding refuses with NSM_MESSAGE_MALFORMED', (_what, bytes) => {
    expect(() => decodeNsmResponse(bytes)).toThrowWithCode('NSM_MESSAGE_MALFORMED');
  });

  it('when a refusal concerns a field, the path names it', () => {
    try {
      decodeNsmRequest(encodeCbor({ ExtendPCR: { index: 16, data: 'abc' } }));
      throw new Error('accepted');
    } catch (e) {
      expect((e as { path?: string }).path).toBe('request.ExtendPCR.data');
    }
  });
});
