import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  NsmClient,
  NsmError,
  SIMULATION_ROOT,
  SoftwareNsm,
  decodeAttestation,
  decodeNsmResponse,
  encodeNsmRequest,
  pcr3ForIamRole,
  pcr4ForInstanceId,
  verifyAttestation,
  type NsmTransport,
} from '../../src/attestation/index.js';
import { decodeCbor } from '../../src/attestation/cbor.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { decodeCoseSign1 } from '../../src/attestation/cose.js';
import { KEY_USAGE, parseCertificate } from '../../src/attestation/x509.js';
import { toHex } from '../../src/util/hex.js';
import { T0, forgeChain } from '../support/attestation/pki-forge.js';

const image = new Map<number, Uint8Array>([
  [0, new Uint8Array(48).fill(0xa0)],
  [1, new Uint8Array(48).fill(0xa1)],
  [2, new Uint8Array(48).fill(0xa2)],
  [3, pcr3ForIamRole('arn:aws:iam::123456789012:role/Builder')],
  [4, pcr4ForInstanceId('i-0123456789abcdef0')],
]);

async function client(
  opts: Parameters<typeof SoftwareNsm.create>[0] = {},
): Promise<{ nsm: SoftwareNsm; c: NsmClient }> {
  const nsm = await SoftwareNsm.create({ clock: () => T0, pcrs: image, ...opts });
  return { nsm, c: new NsmClient(nsm) };
}

async function nsmCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (!(e instanceof NsmError)) throw e;
    return e.nsmCode;
  }
}

describe('SoftwareNsm through NsmClient: PCRs (nitro-brief §1.2)', () => {
  it('when described, it has 32 SHA384 PCRs with 0..15 locked and its module id', async () => {
    const { nsm, c } = await client({ moduleId: 'i-0123456789abcdef0-enc0123456789abcdef' });
    const d = await c.describeNsm();
    expect(d).toEqual({
      versionMajor: 1,
      versionMinor: 0,
      versionPatch: 0,
      moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
      maxPcrs: 32,
      lockedPcrs: [...Array(16).keys()],
      digest: 'SHA384',
    });
    expect(nsm.moduleId).toBe(d.moduleId);
  });

  it('when PCR0 is described, it holds the initial value and is locked', async () => {
    const { c } = await client();
    const p = await c.describePcr(0);
    expect([p.lock, toHex(p.data)]).toEqual([true, 'a0'.repeat(48)]);
    expect((await c.describePcr(16)).lock).toBe(false);
  });

  it('when extending PCR16 with "abc", it returns SHA384(zero || "abc") = b1c16eb7…', async () => {
    const { c } = await client();
    const v = await c.extendPcr(16, new TextEncoder().encode('abc'));
    expect(toHex(v).startsWith('b1c16eb7')).toBe(true);
    expect(toHex((await c.describePcr(16)).data)).toBe(toHex(v));
  });

  it('when an index is 32 or more, describe, extend and lock answer InvalidIndex', async () => {
    const { c } = await client();
    expect(await nsmCode(c.describePcr(32))).toBe('InvalidIndex');
    expect(await nsmCode(c.extendPcr(40, Uint8Array.of(1)))).toBe('InvalidIndex');
    expect(await nsmCode(c.lockPcr(65535))).toBe('InvalidIndex');
    expect(await nsmCode(c.lockPcrs(33))).toBe('InvalidIndex');
  });

  it('when extending a boot-locked PCR, it answers ReadOnlyIndex', async () => {
    const { c } = await client();
    expect(await nsmCode(c.extendPcr(0, Uint8Array.of(1)))).toBe('ReadOnlyIndex');
  });

  it('when locking PCR16, later extensions answer ReadOnlyIndex and locking again too', async () => {
    const { c } = await client();
    await c.extendPcr(16, Uint8Array.of(1));
    await c.lockPcr(16);
    expect((await c.describePcr(16)).lock).toBe(true);
    expect(await nsmCode(c.extendPcr(16, Uint8Array.of(2)))).toBe('ReadOnlyIndex');
    expect(await nsmCode(c.lockPcr(16))).toBe('ReadOnlyIndex');
    expect(await nsmCode(c.lockPcr(3))).toBe('ReadOnlyIndex');
  });

  it('when locking a range, PCRs [0, range) are locked', async () => {
    const { c } = await client();
    await c.lockPcrs(20);
    expect((await c.describeNsm()).lockedPcrs).toEqual([...Array(20).keys()]);
  });

  it('when asked for randomness, it returns 256 fresh bytes each time', async () => {
    const { c } = await client();
    const a = await c.getRandom();
    const b = await c.getRandom();
    expect(a.length).toBe(256);
    expect(toHex(a)).not.toBe(toHex(b));
  });
});

describe('SoftwareNsm: raw requests and error codes', () => {
  let nsm: SoftwareNsm;
  beforeAll(async () => {
    nsm = await SoftwareNsm.create({ clock: () => T0 });
  });
  const answer = async (req: Uint8Array): Promise<unknown> =>
    decodeNsmResponse(await nsm.request(req));

  it('when the request is unknown, it answers InvalidOperation', async () => {
    expect(await answer(encodeCbor('Reboot'))).toEqual({ Error: 'InvalidOperation' });
  });

  it('when the request is not CBOR, it answers InvalidOperation', async () => {
    expect(await answer(Uint8Array.of(0xff, 0x00))).toEqual({ Error: 'InvalidOperation' });
  });

  it('when the request is over 4096 bytes, it answers InputTooLarge', async () => {
    expect(await answer(new Uint8Array(4097))).toEqual({ Error: 'InputTooLarge' });
  });

  it.each(['user_data', 'nonce', 'public_key'])(
    'when %s is 1025 bytes, it answers InvalidArgument',
    async (field) => {
      const req = encodeCbor({ Attestation: { [field]: new Uint8Array(1025) } });
      expect(await answer(req)).toEqual({ Error: 'InvalidArgument' });
    },
  );

  it('when all three fields are 1024 bytes (as AWS nsm-check does), it answers a document', async () => {
    const big = new Uint8Array(1024).fill(128);
    const r = await answer(
      encodeNsmRequest({ Attestation: { user_data: big, nonce: big, public_key: big } }),
    );
    expect(r).toHaveProperty('Attestation.document');
  });

  it('when the answer is an Error, NsmClient throws an NsmError naming the request and code', async () => {
    const err = await new NsmClient(nsm).describePcr(99).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NsmError);
    expect(err).toHaveCode('NSM_ERROR');
    expect((err as Error).message).toMatch(/the NSM refused DescribePCR: InvalidIndex/);
  });

  it('when a transport answers with the wrong kind of response, NsmClient throws InvalidResponse', async () => {
    const liar: NsmTransport = { request: () => Promise.resolve(encodeCbor('LockPCR')) };
    expect(await nsmCode(new NsmClient(liar).getRandom())).toBe('InvalidResponse');
    const liar2: NsmTransport = {
      request: () => Promise.resolve(encodeCbor({ GetRandom: { random: Uint8Array.of(1) } })),
    };
    expect(await nsmCode(new NsmClient(liar2).lockPcr(16))).toBe('InvalidResponse');
  });

  it('when a transport answers garbage, NsmClient throws a typed CBOR error', async () => {
    const broken: NsmTransport = { request: () => Promise.resolve(Uint8Array.of(0x1c)) };
    await expect(new NsmClient(broken).describeNsm()).rejects.toHaveCode('CBOR_MALFORMED');
  });

  it('when options are wrong, create throws a TypeError', async () => {
    await expect(SoftwareNsm.create({ pcrs: new Map([[16, new Uint8Array(48)]]) })).rejects.toThrow(
      TypeError,
    );
    await expect(SoftwareNsm.create({ pcrs: new Map([[0, new Uint8Array(32)]]) })).rejects.toThrow(
      TypeError,
    );
  });
});

describe('SoftwareNsm documents', () => {
  let doc: Uint8Array;
  const nonce = Uint8Array.of(1, 2, 3);
  const userData = new Uint8Array(32).fill(7);

  beforeAll(async () => {
    const { c } = await client();
    doc = await c.attest({ nonce, userData });
  });

  it('when issued, the envelope is byte-for-byte the AWS format: untagged, a1013822, {}, 96-byte signature', () => {
    expect(toHex(doc.subarray(0, 7))).toBe('8444a1013822a0');
    const cose = decodeCoseSign1(doc);
    expect(cose.tagged).toBe(false);
    expect(cose.signature.length).toBe(96);
  });

  it('when issued, the payload has the 9 keys of AWS documents in their order, null for unset fields', () => {
    const p = decodeCbor(decodeCoseSign1(doc).payload, 'payload');
    if (p.kind !== 'map') throw new Error('not a map');
    expect(p.indefinite).toBe(false);
    expect(p.entries.map(([k]) => (k.kind === 'text' ? k.value : '?'))).toEqual([
      'module_id',
      'digest',
      'timestamp',
      'pcrs',
      'certificate',
      'cabundle',
      'public_key',
      'user_data',
      'nonce',
    ]);
    expect(p.entries[6]![1].kind).toBe('null');
  });

  it('when decoded, it carries the request, the time, the locked PCRs 0..15 and a 4-certificate bundle', () => {
    const d = decodeAttestation(doc);
    expect(toHex(d.nonce!)).toBe('010203');
    expect(toHex(d.userData!)).toBe(toHex(userData));
    expect(d.publicKey).toBeNull();
    expect(d.timestamp).toBe(T0);
    expect(d.digest).toBe('SHA384');
    expect([...d.pcrs.keys()]).toEqual([...Array(16).keys()]);
    expect(d.cabundle).toHaveLength(4);
    expect(toHex(d.cabundle[0]!)).toBe(toHex(SIMULATION_ROOT.der));
  });

  it('when its chain is read, it has the AWS profile: pathLen 2/1/0, CA intermediates, a ~3 h non-CA leaf', () => {
    const d = decodeAttestation(doc);
    const [, regional, zonal, instance] = d.cabundle.map((c, i) => parseCertificate(c, `c${i}`));
    expect([
      regional!.basicConstraints,
      zonal!.basicConstraints,
      instance!.basicConstraints,
    ]).toEqual([
      { ca: true, pathLen: 2, critical: true },
      { ca: true, pathLen: 1, critical: true },
      { ca: true, pathLen: 0, critical: true },
    ]);
    expect(instance!.keyUsage).toEqual({ bits: KEY_USAGE.keyCertSign, critical: true });
    const leaf = parseCertificate(d.certificate, 'leaf');
    expect(leaf.basicConstraints).toEqual({ ca: false, pathLen: undefined, critical: true });
    expect(leaf.keyUsage).toEqual({
      bits: KEY_USAGE.digitalSignature | KEY_USAGE.nonRepudiation,
      critical: false,
    });
    expect(leaf.notAfter - leaf.notBefore).toBe(3 * 60 * 60 * 1000);
  });

  it('when verified with the default anchor, it is refused with CHAIN_UNTRUSTED_ROOT', async () => {
    expect(await verifyAttestation(doc)).toBeRefusedWith('CHAIN_UNTRUSTED_ROOT');
  });

  it('when verified with SIMULATION_ROOT as anchor and the image expectations, it is accepted', async () => {
    const r = await verifyAttestation(doc, {
      trustAnchors: [SIMULATION_ROOT],
      expectedPcrs: image,
      expectedNonce: nonce,
      expectedUserData: userData,
    });
    expect(r.ok && r.trustAnchor.name).toBe('tee-compile-simulation');
    expect(r.ok && r.debug).toBe(false);
  });

  it('when no PCR0 is given, its documents are debug-mode documents', async () => {
    const nsm = await SoftwareNsm.create({ clock: () => T0 });
    const d = await new NsmClient(nsm).attest();
    expect(await verifyAttestation(d, { trustAnchors: [SIMULATION_ROOT] })).toBeRefusedWith(
      'DEBUG_MODE',
    );
    expect(
      (await verifyAttestation(d, { trustAnchors: [SIMULATION_ROOT], allowDebug: true })).ok,
    ).toBe(true);
  });

  it('when PCR16 is extended and locked, the next document lists 17 PCRs', async () => {
    const { c } = await client();
    await c.extendPcr(16, Uint8Array.of(9));
    await c.lockPcr(16);
    const d = decodeAttestation(await c.attest());
    expect(d.pcrs.size).toBe(17);
  });

  it('when the clock passes the leaf life, a new leaf is issued and both documents verify at their own time', async () => {
    let now = T0;
    const { c } = await client({ clock: () => now });
    const first = await c.attest();
    now = T0 + 60 * 60 * 1000;
    const second = await c.attest();
    now = T0 + 4 * 60 * 60 * 1000;
    const third = await c.attest();
    const leaf = (b: Uint8Array): string => toHex(decodeAttestation(b).certificate);
    expect(leaf(second)).toBe(leaf(first));
    expect(leaf(third)).not.toBe(leaf(first));
    for (const b of [first, second, third])
      expect((await verifyAttestation(b, { trustAnchors: [SIMULATION_ROOT] })).ok).toBe(true);
    expect(
      await verifyAttestation(first, { trustAnchors: [SIMULATION_ROOT], at: now }),
    ).toBeRefusedWith('CERT_EXPIRED');
  });

  it('when a leaf lifetime is given, leaves live that long', async () => {
    const { c } = await client({ leafLifetimeMs: 10 * 60 * 1000 });
    const leaf = parseCertificate(decodeAttestation(await c.attest()).certificate, 'leaf');
    expect(leaf.notAfter - leaf.notBefore).toBe(10 * 60 * 1000);
  });

  it('when requests arrive concurrently, each is answered and every document verifies', async () => {
    const { c } = await client();
    const docs = await Promise.all(
      [...Array(5).keys()].map((i) => c.attest({ nonce: Uint8Array.of(i) })),
    );
    for (const [i, d] of docs.entries()) {
      const r = await verifyAttestation(d, {
        trustAnchors: [SIMULATION_ROOT],
        expectedNonce: Uint8Array.of(i),
      });
      expect(r.ok).toBe(true);
    }
  });

  it('when another root is given, its documents verify under that root only', async () => {
    const chain = await forgeChain({ keys: 'nsm-root' });
    const { c } = await client({
      root: { certificate: chain.root.der, privateKey: chain.root.keys.privateKey },
    });
    const d = await c.attest();
    expect((await verifyAttestation(d, { trustAnchors: [chain.anchor] })).ok).toBe(true);
    expect(await verifyAttestation(d, { trustAnchors: [SIMULATION_ROOT] })).toBeRefusedWith(
      'CHAIN_UNTRUSTED_ROOT',
    );
  });
});
