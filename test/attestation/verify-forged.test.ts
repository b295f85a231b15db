/**
 * Every refusal code, made to happen by an attack or a malformed document (security code is tested
 * by attack). Forged chains come from test/support/pki-forge.ts.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  ATTESTATION_ERROR_CODES,
  AWS_NITRO_ROOT_G1,
  NsmClient,
  SoftwareNsm,
  decodeNsmRequest,
  verifyAttestation,
  type AttestationErrorCode,
  type TrustAnchor,
} from '../../src/attestation/index.js';
import { encodeCbor, encodeHead } from '../../src/cbor/index.js';
import { MAX_DOCUMENT_BYTES } from '../../src/attestation/cose.js';
import { encodePayload } from '../../src/attestation/document-encode.js';
import {
  generateP256,
  issueCertificate,
  nitroProfile,
  x509,
} from '../../src/attestation/sim-pki.js';
import {
  documentEntries,
  readFixture,
  withEntry,
} from '../support/attestation/attestation-fixtures.js';
import {
  T0,
  baseDocument,
  defaultPcrs,
  forgeChain,
  forgeDocument,
  keysFor,
  protectedHeaderWithAlg,
  rawPayload,
  type Chain,
} from '../support/attestation/pki-forge.js';

interface Outcome {
  ok: boolean;
  code?: string;
  path?: string;
  message?: string;
}

let chain: Chain;
beforeAll(async () => {
  chain = await forgeChain();
});

const H = 60 * 60 * 1000;

async function verifyUnder(
  doc: Uint8Array,
  anchor: TrustAnchor,
  extra: object = {},
): Promise<Outcome> {
  return verifyAttestation(doc, { trustAnchors: [anchor], ...extra });
}

async function thrown(f: () => unknown): Promise<Outcome> {
  try {
    await f();
    return { ok: true };
  } catch (e) {
    const err = e as { code?: string; path?: string; message?: string };
    return { ok: false, code: err.code, path: err.path, message: err.message };
  }
}

/** The payload of a forged document with one field replaced by pre-encoded bytes. */
function payloadWith(
  field: string,
  value: Uint8Array | undefined,
  extra: Array<[string, Uint8Array]> = [],
): Uint8Array {
  const entries = documentEntries(baseDocument(chain));
  return rawPayload([...withEntry(entries, field, value), ...extra]);
}

/** A forged document whose payload has `field` replaced (and which is validly signed). */
async function withField(field: string, value: Uint8Array | undefined): Promise<Outcome> {
  return verifyUnder(
    await forgeDocument(chain, { payload: payloadWith(field, value) }),
    chain.anchor,
  );
}

/** One scenario per code; the Record type makes the compiler demand a scenario for every code. */
const SCENARIOS: Record<AttestationErrorCode, () => Promise<Outcome>> = {
  CBOR_MALFORMED: async () => verifyAttestation(readFixture('doc-anjuna-1.cbor').subarray(0, 3000)),
  CBOR_TRAILING_BYTES: async () => {
    const b = readFixture('doc-anjuna-1.cbor');
    const t = new Uint8Array(b.length + 1);
    t.set(b);
    return verifyAttestation(t);
  },
  CBOR_DUPLICATE_KEY: async () => {
    const payload = payloadWith('nonce', encodeCbor(null), [
      ['nonce', encodeCbor(Uint8Array.of(1))],
    ]);
    return verifyUnder(await forgeDocument(chain, { payload }), chain.anchor);
  },
  CBOR_LIMIT_EXCEEDED: async () => verifyAttestation(new Uint8Array(MAX_DOCUMENT_BYTES + 1)),
  COSE_MALFORMED: async () =>
    verifyUnder(
      await forgeDocument(chain, { unprotected: encodeCbor(new Map([[4, Uint8Array.of(1)]])) }),
      chain.anchor,
    ),
  COSE_BAD_TAG: async () => verifyUnder(await forgeDocument(chain, { tag: 98 }), chain.anchor),
  COSE_UNSUPPORTED_ALG: async () => {
    // A valid ES256 signature by a P-256 leaf, declared as alg -7: refused whatever it proves.
    const p256 = await generateP256();
    const c = await forgeChain({ keys: 'es256', overrides: { leaf: { keys: p256 } } });
    const doc = await forgeDocument(c, {
      protectedHeader: protectedHeaderWithAlg(-7),
      hash: 'SHA-256',
    });
    return verifyUnder(doc, c.anchor);
  },
  DOC_FIELD_MISSING: async () => withField('cabundle', undefined),
  DOC_FIELD_TYPE: async () => withField('timestamp', encodeCbor(String(T0))),
  DOC_FIELD_SIZE: async () => withField('user_data', encodeCbor(new Uint8Array(1025))),
  DOC_FIELD_VALUE: async () => withField('digest', encodeCbor('SHA256')),
  CERT_MALFORMED: async () =>
    verifyUnder(
      await forgeDocument(chain, {
        edit: (d) => void (d.certificate = Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)),
      }),
      chain.anchor,
    ),
  CHAIN_UNTRUSTED_ROOT: async () => {
    // A complete forgery under a self-made root that copies AWS's names byte for byte.
    const awsName = new x509.X509Certificate(AWS_NITRO_ROOT_G1.der.slice().buffer).subjectName;
    const c = await forgeChain({
      keys: 'aws-names',
      overrides: { root: { subject: new Uint8Array(awsName.toArrayBuffer()) } },
    });
    return verifyAttestation(await forgeDocument(c));
  },
  CHAIN_BROKEN: async () => {
    const other = await forgeChain({
      keys: 'other',
      overrides: { instance: { subject: 'C=US, O=Forgery, CN=other-instance' } },
    });
    return verifyUnder(
      await forgeDocument(chain, { edit: (d) => void (d.certificate = other.leaf.der) }),
      chain.anchor,
    );
  },
  CHAIN_SIGNATURE_INVALID: async () => {
    // AWS's own root certificate heading intermediates signed by a key that is not AWS's.
    const c = await forgeChain({
      keys: 'fake-aws',
      root: { der: AWS_NITRO_ROOT_G1.der, keys: await keysFor('fake-aws-root') },
    });
    return verifyAttestation(await forgeDocument(c));
  },
  CERT_EXPIRED: async () => {
    const c = await forgeChain({
      overrides: { zonal: { notBefore: T0 - 10 * H, notAfter: T0 - H } },
    });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_NOT_YET_VALID: async () => {
    const c = await forgeChain({
      overrides: { regional: { notBefore: T0 + H, notAfter: T0 + 100 * H } },
    });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_NOT_CA: async () => {
    const c = await forgeChain({ overrides: { zonal: { basicConstraints: { ca: false } } } });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_LEAF_IS_CA: async () => {
    const c = await forgeChain({ overrides: { leaf: { basicConstraints: { ca: true } } } });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_PATH_LENGTH: async () => {
    const c = await forgeChain({
      overrides: { regional: { basicConstraints: { ca: true, pathLen: 1 } } },
    });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_KEY_USAGE: async () => {
    const c = await forgeChain({
      overrides: { leaf: { keyUsage: { usages: 2, critical: false } } },
    });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_UNSUPPORTED_KEY: async () => {
    const c = await forgeChain({
      keys: 'p256-leaf',
      overrides: { leaf: { keys: await generateP256() } },
    });
    return verifyUnder(await forgeDocument(c, { signature: new Uint8Array(96) }), c.anchor);
  },
  CERT_UNSUPPORTED_ALGORITHM: async () => {
    const c = await forgeChain({ overrides: { instance: { signatureHash: 'SHA-256' } } });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  CERT_UNKNOWN_CRITICAL_EXTENSION: async () => {
    const ext = new x509.Extension('1.3.6.1.4.1.99999.1', true, Uint8Array.of(0x05, 0x00));
    const c = await forgeChain({ overrides: { leaf: { extensions: [ext] } } });
    return verifyUnder(await forgeDocument(c), c.anchor);
  },
  SIGNATURE_INVALID: async () =>
    verifyUnder(
      await forgeDocument(chain, { signingKey: chain.instance.keys.privateKey }),
      chain.anchor,
    ),
  PCR_MISMATCH: async () =>
    verifyUnder(await forgeDocument(chain), chain.anchor, {
      expectedPcrs: new Map([[0, new Uint8Array(48)]]),
    }),
  NONCE_MISMATCH: async () =>
    verifyUnder(await forgeDocument(chain, { nonce: Uint8Array.of(1) }), chain.anchor, {
      expectedNonce: Uint8Array.of(2),
    }),
  USER_DATA_MISMATCH: async () =>
    verifyUnder(await forgeDocument(chain, { userData: Uint8Array.of(1) }), chain.anchor, {
      expectedUserData: Uint8Array.of(1, 0),
    }),
  PUBLIC_KEY_MISMATCH: async () =>
    verifyUnder(await forgeDocument(chain), chain.anchor, { expectedPublicKey: Uint8Array.of(4) }),
  DOCUMENT_TOO_OLD: async () =>
    verifyUnder(await forgeDocument(chain), chain.anchor, { now: T0 + 61_000, maxAgeSeconds: 60 }),
  DOCUMENT_FROM_FUTURE: async () =>
    verifyUnder(await forgeDocument(chain), chain.anchor, { now: T0 - 1 }),
  DEBUG_MODE: async () => {
    const pcrs = defaultPcrs();
    pcrs.set(0, new Uint8Array(48));
    return verifyUnder(await forgeDocument(chain, { pcrs }), chain.anchor);
  },
  NSM_MESSAGE_MALFORMED: async () =>
    thrown(() => decodeNsmRequest(encodeCbor({ DescribePCR: { index: -1 } }))),
  NSM_ERROR: async () => {
    const nsm = await SoftwareNsm.create({ clock: () => T0 });
    return thrown(() => new NsmClient(nsm).describePcr(32));
  },
};

describe('every attestation error code', () => {
  it('when listing the scenarios, there is one for each code of ATTESTATION_ERROR_CODES', () => {
    expect(Object.keys(SCENARIOS).sort()).toEqual([...ATTESTATION_ERROR_CODES].sort());
  });

  it.each([...ATTESTATION_ERROR_CODES])('when its scenario runs, it yields %s', async (code) => {
    const r = await SCENARIOS[code]();
    expect(r).toBeRefusedWith(code);
    expect(r.message?.length).toBeGreaterThan(10);
  });
});

describe('forged documents', () => {
  it('when nothing is broken, a forged document verifies under its own root and only there', async () => {
    const doc = await forgeDocument(chain);
    const r = await verifyUnder(doc, chain.anchor);
    expect(r.ok).toBe(true);
    expect(await verifyAttestation(doc)).toBeRefusedWith('CHAIN_UNTRUSTED_ROOT');
  });

  it('when tagged 18, the document verifies (RFC 9052 §4.2 allows the tag)', async () => {
    expect((await verifyUnder(await forgeDocument(chain, { tag: true }), chain.anchor)).ok).toBe(
      true,
    );
  });

  it('when the unprotected header is non-empty, the refusal names it', async () => {
    const r = await SCENARIOS.COSE_MALFORMED();
    expect(r.path).toBe('unprotected');
  });

  it('when the forgery copies AWS names, the message says the root has the name but not the key', async () => {
    const r = await SCENARIOS.CHAIN_UNTRUSTED_ROOT();
    expect(r.message).toMatch(/has the name of trust anchor aws-nitro-root-g1 but not its key/);
    expect(r.path).toBe('payload.cabundle.0');
  });

  it('when AWS root bytes head forged intermediates, the regional certificate is the one refused', async () => {
    const r = await SCENARIOS.CHAIN_SIGNATURE_INVALID();
    expect(r.path).toBe('payload.cabundle.1');
  });

  it('when a root that is not AWS is presented, it is refused even with a valid signature chain', async () => {
    const r = await verifyAttestation(await forgeDocument(chain));
    expect(r).toBeRefusedWith('CHAIN_UNTRUSTED_ROOT');
    expect(r.ok ? '' : r.message).toMatch(/not a trusted root \(trusted: aws-nitro-root-g1\)/);
  });

  it('when ES256 is declared with a valid ES256 signature, the refusal names the algorithm', async () => {
    const r = await SCENARIOS.COSE_UNSUPPORTED_ALG();
    expect(r.message).toMatch(/alg -7 \(ES256\); only ES384 \(-35\)/);
  });

  it('when the intermediate is not a CA, the refusal points at it', async () => {
    expect((await SCENARIOS.CERT_NOT_CA()).path).toBe('payload.cabundle.2');
  });

  it('when an intermediate lacks basicConstraints altogether, it is refused with CERT_NOT_CA', async () => {
    const c = await forgeChain({ overrides: { instance: { basicConstraints: null } } });
    expect(await verifyUnder(await forgeDocument(c), c.anchor)).toBeRefusedWith('CERT_NOT_CA');
  });

  it('when a CA lacks keyCertSign, it is refused with CERT_KEY_USAGE at that CA', async () => {
    const c = await forgeChain({
      overrides: { instance: { keyUsage: { usages: 1, critical: true } } },
    });
    const r = await verifyUnder(await forgeDocument(c), c.anchor);
    expect(r).toBeRefusedWith('CERT_KEY_USAGE');
    expect(r.path).toBe('payload.cabundle.3');
  });

  it('when the leaf has no keyUsage, it is refused with CERT_KEY_USAGE', async () => {
    const c = await forgeChain({ overrides: { leaf: { keyUsage: null } } });
    expect(await verifyUnder(await forgeDocument(c), c.anchor)).toBeRefusedWith('CERT_KEY_USAGE');
  });

  it('when the path length is exceeded, the message names the constraint', async () => {
    const r = await SCENARIOS.CERT_PATH_LENGTH();
    expect(r.message).toMatch(
      /allows 1 CA certificates below it \(pathLenConstraint\), but 2 follow/,
    );
    expect(r.path).toBe('payload.cabundle.1');
  });

  it('when the instance CA has pathLen 0 and the leaf follows directly, it is accepted (the leaf does not count)', async () => {
    const c = await forgeChain({
      overrides: { instance: { basicConstraints: { ca: true, pathLen: 0 } } },
    });
    expect((await verifyUnder(await forgeDocument(c), c.anchor)).ok).toBe(true);
  });

  it('when a fourth CA hangs under the instance CA (pathLen 0), it is refused with CERT_PATH_LENGTH', async () => {
    const keys = await keysFor('sub-ca');
    const sub = {
      der: await issueCertificate({
        subject: 'C=US, O=Forgery, CN=sub-ca',
        keys,
        issuer: chain.instance,
        notBefore: T0 - H,
        notAfter: T0 + H,
        ...nitroProfile('zonal'),
      }),
      keys,
    };
    const leafKeys = await keysFor('sub-leaf');
    const leaf = await issueCertificate({
      subject: 'C=US, O=Forgery, CN=sub-leaf',
      keys: leafKeys,
      issuer: sub,
      notBefore: T0 - H,
      notAfter: T0 + H,
      ...nitroProfile('leaf'),
    });
    const doc = await forgeDocument(chain, {
      signingKey: leafKeys.privateKey,
      edit: (d) => {
        d.cabundle.push(sub.der);
        d.certificate = leaf;
      },
    });
    const r = await verifyUnder(doc, chain.anchor);
    expect(r).toBeRefusedWith('CERT_PATH_LENGTH');
    // The regional CA (pathLen 2) already sees three CAs below it.
    expect(r.path).toBe('payload.cabundle.1');
  });

  it('when the cabundle repeats the instance CA, it is refused with CHAIN_BROKEN', async () => {
    const doc = await forgeDocument(chain, {
      edit: (d) => void d.cabundle.push(chain.instance.der),
    });
    expect(await verifyUnder(doc, chain.anchor)).toBeRefusedWith('CHAIN_BROKEN');
  });

  it('when the expired certificate is an intermediate, the message says which and when', async () => {
    const r = await SCENARIOS.CERT_EXPIRED();
    expect(r.path).toBe('payload.cabundle.2');
    expect(r.message).toMatch(
      /expired at 2025-06-01T11:00:00.000Z; checked at 2025-06-01T12:00:00.000Z/,
    );
  });

  it('when checked at a time inside every validity window but the document is later, `at` decides', async () => {
    const doc = await forgeDocument(chain, { timestamp: T0 + 100 * H });
    expect(await verifyUnder(doc, chain.anchor)).toBeRefusedWith('CERT_EXPIRED');
    expect((await verifyUnder(doc, chain.anchor, { at: T0 })).ok).toBe(true);
  });

  it('when the document is signed by the instance CA instead of the leaf, it is refused with SIGNATURE_INVALID', async () => {
    expect((await SCENARIOS.SIGNATURE_INVALID()).path).toBe('signature');
  });

  it('when the root is re-encoded but keeps the anchor name and key, the anchor stands in for it', async () => {
    // A second self-signed certificate for the same key and name (different serial, so other bytes).
    const twin = await forgeChain({
      keys: 'default',
      overrides: { root: { serialNumber: '0a0b0c' } },
    });
    const doc = await forgeDocument(chain, { edit: (d) => void (d.cabundle[0] = twin.root.der) });
    expect((await verifyUnder(doc, chain.anchor)).ok).toBe(true);
  });

  it('when the document payload is re-encoded by the NSM layout, it matches the forged bytes', async () => {
    const doc = baseDocument(chain);
    expect(encodePayload(doc)[0]).toBe(0xa9);
    expect(encodeHead(2, 5000)).toEqual(Uint8Array.of(0x59, 0x13, 0x88));
  });
});
