/**
 * A seeded mutation fuzzer over attestation documents, shared by the short run in `npm test`
 * (test/attestation/fuzz.test.ts) and the full run (test/long/attestation-fuzz.test.ts).
 *
 * Oracle: whatever the mutation, `verifyAttestation` never throws and `decodeAttestation` throws
 * only our typed errors; and a mutated document is accepted only when what was signed (protected
 * header, payload and signature bytes) is unchanged: re-encoding the envelope (a tag, an
 * indefinite-length array, longer heads, a chunked payload) legitimately keeps it valid.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AWS_NITRO_ROOT_G1,
  createChainCache,
  decodeAttestation,
  isAttestationError,
  trustAnchorFromPem,
  verifyAttestation,
  webCryptoVerifier,
  type ChainCache,
  type TrustAnchor,
} from '../../../src/attestation/index.js';
import { encodeCbor, encodeHead, type CborItem } from '../../../src/cbor/index.js';
import { decodeCbor } from '../../../src/attestation/cbor.js';
import { decodeCoseSign1, type CoseSign1 } from '../../../src/attestation/cose.js';
import { encodeCoseSign1, encodePayload } from '../../../src/attestation/document-encode.js';
import { nodeCryptoVerifier } from '../../../src/attestation/node-crypto.js';
import { concatBytes } from '../../../src/util/bytes.js';
import { toHex } from '../../../src/util/hex.js';
import { GENUINE, readFixture } from './attestation-fixtures.js';
import { rawPayload } from './pki-forge.js';

/** mulberry32: small, fast, good enough to pick mutations; reproducible from its seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

/** A document of the corpus with what it needs to verify. */
export interface Seed {
  name: string;
  bytes: Uint8Array;
  anchors: TrustAnchor[];
  cose: CoseSign1;
  /** Offsets of every CBOR head in the document (envelope, protected header and payload). */
  heads: number[];
  /** Offsets of the heads inside the payload. */
  payloadHeads: number[];
}

function collect(item: CborItem, out: number[], shift: number): void {
  out.push(item.start + shift);
  if (item.kind === 'array') for (const i of item.items) collect(i, out, shift);
  else if (item.kind === 'map')
    for (const [k, v] of item.entries) {
      collect(k, out, shift);
      collect(v, out, shift);
    }
  else if (item.kind === 'tag') collect(item.item, out, shift);
}

function seedOf(name: string, bytes: Uint8Array, anchors: TrustAnchor[]): Seed {
  const top = decodeCbor(bytes, 'seed');
  if (top.kind !== 'array') throw new Error(`${name} is not a COSE array`);
  const heads: number[] = [];
  collect(top, heads, 0);
  const [prot, , payload] = top.items as [CborItem, CborItem, CborItem];
  const protStart = prot.end - (prot.kind === 'bytes' ? prot.value.length : 0);
  collect(decodeCbor((prot as { value: Uint8Array }).value, 'p'), heads, protStart);
  const payloadBytes = (payload as { value: Uint8Array }).value;
  const payloadHeads: number[] = [];
  collect(decodeCbor(payloadBytes, 'payload'), payloadHeads, payload.end - payloadBytes.length);
  return {
    name,
    bytes,
    anchors,
    cose: decodeCoseSign1(bytes),
    heads: [...heads, ...payloadHeads],
    payloadHeads,
  };
}

/** The corpus: every genuine document and the valid forged document of test/fixtures/pki. */
export function loadCorpus(): Seed[] {
  const seeds = GENUINE.map((f) => seedOf(f.file, readFixture(f.file), [AWS_NITRO_ROOT_G1]));
  const pki = fileURLToPath(new URL('../../fixtures/pki/', import.meta.url));
  const root = trustAnchorFromPem('pki-root', readFileSync(`${pki}root.pem`, 'utf8'));
  seeds.push(seedOf('pki/valid.cbor', new Uint8Array(readFileSync(`${pki}valid.cbor`)), [root]));
  return seeds;
}

function splice(b: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  return concatBytes([b.subarray(0, at), insert, b.subarray(Math.min(b.length, at + remove))]);
}

/** Edits the argument of the head at `p` (RFC 8949 §3): lengths, counts and values. */
function editHead(b: Uint8Array, p: number, rng: Rng): [string, Uint8Array] {
  const ib = b[p]!;
  const major = ib >> 5;
  const ai = ib & 0x1f;
  const out = b.slice();
  switch (rng.int(6)) {
    case 0:
      out[p] = (major << 5) | (ai < 24 ? (ai + 1) % 24 : ai);
      if (ai >= 24 && ai <= 27) out[p + (1 << (ai - 24))] = (out[p + (1 << (ai - 24))]! + 1) & 0xff;
      return ['head+1', out];
    case 1:
      out[p] = (major << 5) | (ai > 0 && ai < 24 ? ai - 1 : ai);
      if (ai >= 24 && ai <= 27) out[p + (1 << (ai - 24))] = (out[p + (1 << (ai - 24))]! - 1) & 0xff;
      return ['head-1', out];
    case 2:
      out[p] = (major << 5) | 31;
      return ['head-indefinite', out];
    case 3:
      out[p] = (major << 5) | (28 + rng.int(3));
      return ['head-reserved', out];
    case 4:
      return [
        'head-huge',
        splice(b, p, 1, Uint8Array.of((major << 5) | 27, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)),
      ];
    default:
      out[p] = (rng.int(8) << 5) | ai;
      return ['head-type', out];
  }
}

/** Rebuilds the payload with one structural change (the signature no longer matches). */
function structural(seed: Seed, rng: Rng, corpus: Seed[]): [string, Uint8Array] {
  const d = decodeAttestation(seed.bytes);
  const doc = { ...d, pcrs: new Map(d.pcrs), cabundle: [...d.cabundle] };
  const other = decodeAttestation(rng.pick(corpus).bytes);
  let name: string;
  switch (rng.int(6)) {
    case 0: {
      const i = rng.int(doc.cabundle.length);
      const j = rng.int(doc.cabundle.length);
      [doc.cabundle[i], doc.cabundle[j]] = [doc.cabundle[j]!, doc.cabundle[i]!];
      name = `swap-cabundle-${i}-${j}`;
      break;
    }
    case 1:
      doc.certificate = other.certificate;
      name = 'foreign-leaf';
      break;
    case 2:
      doc.cabundle = other.cabundle;
      name = 'foreign-cabundle';
      break;
    case 3:
      doc.cabundle.splice(rng.int(doc.cabundle.length), 1);
      name = 'drop-cabundle-entry';
      break;
    case 4:
      doc.timestamp = other.timestamp;
      name = 'foreign-timestamp';
      break;
    default: {
      const entries: Array<[string, Uint8Array]> = [
        ['module_id', encodeCbor(doc.moduleId)],
        ['digest', encodeCbor(doc.digest)],
        ['timestamp', encodeCbor(doc.timestamp)],
        ['pcrs', encodeCbor(doc.pcrs)],
        ['certificate', encodeCbor(doc.certificate)],
        ['cabundle', encodeCbor(doc.cabundle)],
        ['nonce', encodeCbor(doc.nonce)],
      ];
      entries.push(rng.pick(entries));
      return [
        'duplicate-payload-key',
        encodeCoseSign1({ payload: rawPayload(entries), signature: seed.cose.signature }),
      ];
    }
  }
  return [name, encodeCoseSign1({ payload: encodePayload(doc), signature: seed.cose.signature })];
}

/** Re-encodes the envelope without touching what is signed. */
function envelope(seed: Seed, rng: Rng): [string, Uint8Array] {
  const { protectedBytes, payload, signature } = seed.cose;
  const long = (b: Uint8Array): Uint8Array =>
    concatBytes([Uint8Array.of(0x5a, 0, 0, b.length >> 8, b.length & 0xff), b]);
  const items = [
    encodeCbor(protectedBytes),
    Uint8Array.of(0xa0),
    encodeCbor(payload),
    encodeCbor(signature),
  ];
  switch (rng.int(4)) {
    case 0:
      return ['tag-18', concatBytes([Uint8Array.of(0xd2), seed.bytes])];
    case 1:
      return [
        'indefinite-array',
        concatBytes([Uint8Array.of(0x9f), ...items, Uint8Array.of(0xff)]),
      ];
    case 2:
      return [
        'long-heads',
        concatBytes([
          Uint8Array.of(0x84),
          long(protectedBytes),
          Uint8Array.of(0xa0),
          long(payload),
          long(signature),
        ]),
      ];
    default: {
      const cut = 1 + rng.int(payload.length - 1);
      const chunked = concatBytes([
        Uint8Array.of(0x5f),
        encodeHead(2, cut),
        payload.subarray(0, cut),
        encodeHead(2, payload.length - cut),
        payload.subarray(cut),
        Uint8Array.of(0xff),
      ]);
      return [
        'chunked-payload',
        concatBytes([Uint8Array.of(0x84), items[0]!, items[1]!, chunked, items[3]!]),
      ];
    }
  }
}

/** One mutation of `seed`, chosen and parameterised by `rng`. */
export function mutate(seed: Seed, rng: Rng, corpus: Seed[]): [string, Uint8Array] {
  const b = seed.bytes;
  const at = rng.int(b.length);
  switch (rng.int(12)) {
    case 0: {
      const out = b.slice();
      for (let n = 1 + rng.int(3); n > 0; n--) {
        const i = rng.int(out.length);
        out[i] = out[i]! ^ (1 << rng.int(8));
      }
      return ['bit-flip', out];
    }
    case 1: {
      const out = b.slice();
      out[at] = rng.int(256);
      return ['byte-set', out];
    }
    case 2:
      return ['insert', splice(b, at, 0, rng.bytes(1 + rng.int(4)))];
    case 3:
      return ['delete', splice(b, at, 1 + rng.int(8), new Uint8Array(0))];
    case 4:
      return ['truncate', b.subarray(0, at)];
    case 5:
      return ['append', concatBytes([b, rng.bytes(1 + rng.int(4))])];
    case 6:
    case 7:
      return editHead(b, rng.pick(seed.heads), rng);
    case 8: {
      const p = rng.pick(seed.payloadHeads);
      const out = b.slice();
      out[p] = (rng.int(8) << 5) | (out[p]! & 0x1f);
      return ['payload-type', out];
    }
    case 9:
      return structural(seed, rng, corpus);
    case 10:
      return envelope(seed, rng);
    default: {
      const other = rng.pick(corpus).cose;
      const part = rng.int(3);
      const cose = { ...seed.cose };
      if (part === 0) cose.signature = other.signature;
      else if (part === 1) cose.payload = other.payload;
      else cose.protectedBytes = Uint8Array.of(0xa1, 0x01, 0x26); // ES256
      return [`splice-${['signature', 'payload', 'alg'][part]}`, encodeCoseSign1({ ...cose })];
    }
  }
}

function sameSigned(a: CoseSign1, b: CoseSign1): boolean {
  return (
    toHex(a.protectedBytes) === toHex(b.protectedBytes) &&
    toHex(a.payload) === toHex(b.payload) &&
    toHex(a.signature) === toHex(b.signature)
  );
}

/** Outcome counts of a run, for a sanity check that the fuzzer reaches every stage. */
export type FuzzStats = Record<string, number>;

/**
 * Runs `cases` mutations from `seed` (a uint32). Throws on the first violation of the oracle with
 * the seed, the case number and the mutation, so the failure can be replayed.
 */
export async function fuzz(seed: number, cases: number): Promise<FuzzStats> {
  const corpus = loadCorpus();
  const master = new Rng(seed);
  const caches = new Map<TrustAnchor[], ChainCache>();
  const stats: FuzzStats = {};
  for (let n = 0; n < cases; n++) {
    const caseSeed = master.next();
    const rng = new Rng(caseSeed);
    const s = rng.pick(corpus);
    const [name, bytes] = mutate(s, rng, corpus);
    const where = `seed ${seed} case ${n} (case seed ${caseSeed}): ${name} of ${s.name}`;
    let cache = caches.get(s.anchors);
    if (cache === undefined) caches.set(s.anchors, (cache = createChainCache()));
    let r;
    try {
      r = await verifyAttestation(bytes, {
        trustAnchors: s.anchors,
        allowDebug: true,
        cache,
        verifier: n % 8 === 0 ? webCryptoVerifier : nodeCryptoVerifier,
      });
    } catch (e) {
      throw new Error(`verifyAttestation threw ${String(e)} at ${where}`, { cause: e });
    }
    try {
      decodeAttestation(bytes);
    } catch (e) {
      if (!isAttestationError(e))
        throw new Error(`decodeAttestation threw ${String(e)} at ${where}`, { cause: e });
    }
    if (r.ok) {
      if (!sameSigned(decodeCoseSign1(bytes), s.cose))
        throw new Error(`a mutated document was accepted at ${where}`);
      stats.ok = (stats.ok ?? 0) + 1;
    } else stats[r.code] = (stats[r.code] ?? 0) + 1;
  }
  return stats;
}

/** The seed of a run: ATTESTATION_FUZZ_SEED when set, else a fresh one (printed on failure). */
export function fuzzSeed(): number {
  const env = process.env.ATTESTATION_FUZZ_SEED;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}

/**
 * Runs `cases` mutations from {@link fuzzSeed}; a failure names the ATTESTATION_FUZZ_SEED that
 * replays it.
 */
export async function fuzzRun(cases: number): Promise<{ seed: number; stats: FuzzStats }> {
  const seed = fuzzSeed();
  try {
    return { seed, stats: await fuzz(seed, cases) };
  } catch (e) {
    throw new Error(
      `attestation fuzz failed; replay with ATTESTATION_FUZZ_SEED=${seed}: ${String(e)}`,
      { cause: e },
    );
  }
}
