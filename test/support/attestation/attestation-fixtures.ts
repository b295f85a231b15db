/**
 * The genuine AWS Nitro documents of test/fixtures/nitro and their decoded facts (facts.json; their
 * origin is in SOURCES.md).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeCbor } from '../../../src/cbor/index.js';
import { encodeCoseSign1 } from '../../../src/attestation/document-encode.js';
import type { AttestationDocument } from '../../../src/attestation/types.js';

export const NITRO_DIR = fileURLToPath(new URL('../../fixtures/nitro/', import.meta.url));

/** An optional field as recorded in facts.json (`hex` may be abbreviated with "..."). */
export interface OptionalFact {
  state: 'null' | 'bytes' | 'absent';
  len?: number | string;
  hex?: string;
}

/** One entry of facts.json (the fields the tests use). */
export interface DocFacts {
  file: string;
  category: 'genuine' | 'negative' | 'mock';
  size: number;
  module_id: string;
  digest: string;
  timestamp: number;
  pcr_count: number;
  pcr_indices: number[];
  nonzero_pcrs: number[];
  pcrs_nonzero_hex: Record<string, string>;
  public_key: OptionalFact;
  user_data: OptionalFact;
  nonce: OptionalFact;
  leaf_notBefore: string;
  leaf_notAfter: string;
  cabundle_len: number;
  payload_map_header: string;
}

/** All entries of facts.json. */
export const FACTS: DocFacts[] = JSON.parse(
  readFileSync(`${NITRO_DIR}facts.json`, 'utf8'),
) as DocFacts[];

/** The genuine documents (produced by Nitro hardware). */
export const GENUINE: DocFacts[] = FACTS.filter((f) => f.category === 'genuine');

/** The bytes of a fixture file. */
export function readFixture(file: string): Uint8Array {
  return new Uint8Array(readFileSync(`${NITRO_DIR}${file}`));
}

/** Debug-mode documents have PCR0 all zero. */
export function isDebugFact(f: DocFacts): boolean {
  return !f.nonzero_pcrs.includes(0);
}

/** Leaf notAfter in ms (facts record whole seconds, `…Z`). */
export function leafNotAfterMs(f: DocFacts): number {
  return Date.parse(f.leaf_notAfter);
}

/** Leaf notBefore in ms. */
export function leafNotBeforeMs(f: DocFacts): number {
  return Date.parse(f.leaf_notBefore);
}

/** A genuine document by file name (throws when absent, so tests fail loudly). */
export function genuine(file: string): { facts: DocFacts; bytes: Uint8Array } {
  const facts = GENUINE.find((f) => f.file === file);
  if (facts === undefined) throw new Error(`no genuine fixture ${file}`);
  return { facts, bytes: readFixture(file) };
}

/** The payload of `doc` as raw entries (key, encoded value), in the NSM's order, for editing. */
export function documentEntries(doc: AttestationDocument): Array<[string, Uint8Array]> {
  return [
    ['module_id', encodeCbor(doc.moduleId)],
    ['digest', encodeCbor(doc.digest)],
    ['timestamp', encodeCbor(doc.timestamp)],
    ['pcrs', encodeCbor(new Map([...doc.pcrs].sort((a, b) => a[0] - b[0])))],
    ['certificate', encodeCbor(doc.certificate)],
    ['cabundle', encodeCbor(doc.cabundle)],
    ['public_key', encodeCbor(doc.publicKey)],
    ['user_data', encodeCbor(doc.userData)],
    ['nonce', encodeCbor(doc.nonce)],
  ];
}

/** `entries` with `key` replaced by `value` (pre-encoded), or removed when `value` is undefined. */
export function withEntry(
  entries: Array<[string, Uint8Array]>,
  key: string,
  value: Uint8Array | undefined,
): Array<[string, Uint8Array]> {
  const out = entries.filter(([k]) => k !== key || value !== undefined);
  return out.map(([k, v]) => [k, k === key && value !== undefined ? value : v]);
}

/** A COSE_Sign1 around `payload` with a zero signature: enough for decoding tests. */
export function unsignedDocument(payload: Uint8Array): Uint8Array {
  return encodeCoseSign1({ payload, signature: new Uint8Array(96) });
}
