/**
 * A forger of Nitro-shaped certificate chains and attestation documents, built on the software
 * NSM's issuing code (src/attestation/sim-pki.ts) with a knob for every property a verifier must
 * check. Tests use it to make each refusal happen; scripts/gen-test-pki.ts writes a set of its
 * documents to test/fixtures/pki/.
 */
import { CborRaw, encodeCbor, encodeHead } from '../../../src/cbor/index.js';
import { concatBytes } from '../../../src/util/bytes.js';
import { sigStructure } from '../../../src/cose/index.js';
import { bufferSource } from '../../../src/attestation/crypto.js';
import {
  encodeCoseSign1,
  encodePayload,
  NSM_PROTECTED_HEADER,
} from '../../../src/attestation/document-encode.js';
import {
  generateP384,
  issueCertificate,
  nitroProfile,
  type CertSpec,
  type ChainLevel,
  type Issued,
} from '../../../src/attestation/sim-pki.js';
import type { AttestationDocument, TrustAnchor } from '../../../src/attestation/types.js';

/** The time of forged documents: 2025-06-01T12:00:00Z. */
export const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const H = 60 * 60 * 1000;
const D = 24 * H;

/** Default validity of each level around T0 (as long as AWS's, see nitro-brief §2.3). */
export const WINDOWS: Record<ChainLevel, [number, number]> = {
  root: [T0 - 365 * D, T0 + 3650 * D],
  regional: [T0 - 10 * D, T0 + 10 * D],
  zonal: [T0 - 3 * D, T0 + 3 * D],
  instance: [T0 - 12 * H, T0 + 12 * H],
  leaf: [T0 - H, T0 + 2 * H],
};

const SUBJECTS: Record<ChainLevel, string> = {
  root: 'C=US, O=Forgery, OU=Test, CN=forged.nitro-enclaves',
  regional: 'C=US, O=Forgery, OU=Test, CN=0123456789abcdef.us-test-1.forged.nitro-enclaves',
  zonal: 'C=US, O=Forgery, OU=Test, CN=fedcba9876543210.zonal.us-test-1.forged.nitro-enclaves',
  instance: 'C=US, O=Forgery, OU=Test, CN=i-0123456789abcdef0.us-test-1.forged.nitro-enclaves',
  leaf: 'C=US, O=Forgery, OU=Test, CN=i-0123456789abcdef0-enc0123456789abcdef.us-test-1.forged',
};

export const LEVELS: readonly ChainLevel[] = ['root', 'regional', 'zonal', 'instance', 'leaf'];

const keyCache = new Map<string, Promise<CryptoKeyPair>>();

/** A P-384 key pair per label, generated once per test process (key generation is the slow part). */
export function keysFor(label: string): Promise<CryptoKeyPair> {
  let k = keyCache.get(label);
  if (k === undefined) {
    k = generateP384();
    keyCache.set(label, k);
  }
  return k;
}

/** A forged chain: one issued certificate per level and the anchor that trusts its root. */
export type Chain = Record<ChainLevel, Issued> & { anchor: TrustAnchor };

export interface ChainOptions {
  /** Per-level changes to the standard Nitro profile (validity, constraints, key usage, …). */
  overrides?: Partial<Record<ChainLevel, Partial<CertSpec>>>;
  /** Use this root (e.g. AWS's certificate with a key that is not AWS's) instead of a forged one. */
  root?: Issued;
  /** Label of the key set (chains with different labels have different keys). */
  keys?: string;
}

/** Issues root -> regional -> zonal -> instance -> leaf with the Nitro profile and `overrides`. */
export async function forgeChain(opts: ChainOptions = {}): Promise<Chain> {
  const label = opts.keys ?? 'default';
  const out: Partial<Record<ChainLevel, Issued>> = {};
  let parent: Issued | undefined = opts.root;
  for (const level of LEVELS) {
    if (level === 'root' && opts.root !== undefined) {
      out.root = opts.root;
      continue;
    }
    const keys = opts.overrides?.[level]?.keys ?? (await keysFor(`${label}/${level}`));
    const spec: CertSpec = {
      subject: SUBJECTS[level],
      keys,
      notBefore: WINDOWS[level][0],
      notAfter: WINDOWS[level][1],
      ...nitroProfile(level),
      ...(level === 'root' ? {} : { issuer: parent }),
      ...opts.overrides?.[level],
    };
    const issued: Issued = { der: await issueCertificate(spec), keys };
    out[level] = issued;
    parent = issued;
  }
  const chain = out as Record<ChainLevel, Issued>;
  return { ...chain, anchor: { name: `forged-${label}`, der: chain.root.der } };
}

/** PCRs of forged documents: 0..15, PCR0 non-zero (production mode) unless overridden. */
export function defaultPcrs(): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 0; i < 16; i++)
    m.set(i, new Uint8Array(48).fill(i === 0 ? 0x11 : i < 5 ? 0x20 + i : 0));
  return m;
}

export interface DocumentOptions {
  timestamp?: number;
  pcrs?: Map<number, Uint8Array>;
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
  publicKey?: Uint8Array | null;
  /** Edit the document fields before encoding (e.g. replace the cabundle). */
  edit?: (doc: AttestationDocument) => void;
  /** Use these payload bytes instead of encoding the document. */
  payload?: Uint8Array;
  /** Protected header bytes; default `{1: -35}`. */
  protectedHeader?: Uint8Array;
  /** Pre-encoded unprotected header; default `{}`. */
  unprotected?: Uint8Array;
  /** Signing key and hash; default the leaf key with SHA-384. */
  signingKey?: CryptoKey;
  hash?: 'SHA-256' | 'SHA-384';
  /** Raw signature to use instead of signing. */
  signature?: Uint8Array;
  tag?: boolean | number;
}

/** The document fields a forged document starts from. */
export function baseDocument(chain: Chain, o: DocumentOptions = {}): AttestationDocument {
  const doc: AttestationDocument = {
    moduleId: 'i-0123456789abcdef0-enc0123456789abcdef',
    digest: 'SHA384',
    timestamp: o.timestamp ?? T0,
    pcrs: o.pcrs ?? defaultPcrs(),
    certificate: chain.leaf.der,
    cabundle: [chain.root.der, chain.regional.der, chain.zonal.der, chain.instance.der],
    publicKey: o.publicKey ?? null,
    userData: o.userData ?? null,
    nonce: o.nonce ?? null,
  };
  o.edit?.(doc);
  return doc;
}

/** A signed document under `chain` (valid under `chain.anchor` unless an option breaks it). */
export async function forgeDocument(chain: Chain, o: DocumentOptions = {}): Promise<Uint8Array> {
  const payload = o.payload ?? encodePayload(baseDocument(chain, o));
  const protectedBytes = o.protectedHeader ?? NSM_PROTECTED_HEADER;
  let signature = o.signature;
  if (signature === undefined) {
    const sig = await globalThis.crypto.subtle.sign(
      { name: 'ECDSA', hash: o.hash ?? 'SHA-384' },
      o.signingKey ?? chain.leaf.keys.privateKey,
      bufferSource(sigStructure(protectedBytes, payload)),
    );
    signature = new Uint8Array(sig);
  }
  const parts: Parameters<typeof encodeCoseSign1>[0] = { protectedBytes, payload, signature };
  if (o.unprotected !== undefined) parts.unprotected = o.unprotected;
  if (o.tag !== undefined) parts.tag = o.tag;
  return encodeCoseSign1(parts);
}

/** A protected header with another algorithm, e.g. `{1: -7}` (ES256). */
export function protectedHeaderWithAlg(alg: number): Uint8Array {
  return encodeCbor(new Map([[1, alg]]));
}

/**
 * A payload map from raw entries (key, pre-encoded value), in order and without deduplication, so
 * that malformed payloads (repeated keys, odd values) can be built.
 */
export function rawPayload(entries: Array<[string, Uint8Array]>): Uint8Array {
  const parts = [encodeHead(5, entries.length), ...entries.flatMap(([k, v]) => [encodeCbor(k), v])];
  return encodeCbor(new CborRaw(concatBytes(parts)));
}
