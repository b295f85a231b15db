/**
 * Bundles from simulated builders, without running a build: a real provenance statement
 * (`buildStatement`), attested by the software NSM with PCR0-2 = an image's simulated
 * measurements from the catalog, PCR3 = the builder's IAM role as AWS measures it and PCR4 = an
 * instance id, written in the real bundle format. Shared by the bundle, verify, agent and action
 * tests.
 */
import type { DsseSigner } from '../../../src/dsse/index.js';
import { IN_TOTO_PAYLOAD_TYPE, encodeEnvelope, signEnvelope } from '../../../src/dsse/index.js';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  NsmClient,
  SoftwareNsm,
  pcr3ForIamRole,
  pcr4ForInstanceId,
} from '../../../src/attestation/index.js';
import type { BundleContents, BundleWriteInput } from '../../../src/bundle/index.js';
import { encodeBundle, readBundle } from '../../../src/bundle/index.js';
import { findImage, type ImageEntry, type ImageLanguage } from '../../../src/catalog/index.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import type { ProvenanceStatement, ResourceDescriptor } from '../../../src/provenance/index.js';
import {
  buildStatement,
  parseBuildConfig,
  serializeStatement,
} from '../../../src/provenance/index.js';
import { fromHex, toHex } from '../../../src/util/hex.js';

/** A simulated builder: an organisation whose Nitro hosts run under one IAM role. */
export interface SimulatedBuilder {
  name: string;
  iamRole: string;
  instanceId: string;
}

/** Distinct builders (distinct accounts and roles) for k-of-n tests. */
export const BUILDERS: readonly SimulatedBuilder[] = [
  {
    name: 'alpha',
    iamRole: 'arn:aws:iam::111111111111:role/tee-compile-builder',
    instanceId: 'i-0a0000000000000a1',
  },
  {
    name: 'beta',
    iamRole: 'arn:aws:iam::222222222222:role/ci/tee-compile',
    instanceId: 'i-0b0000000000000b2',
  },
  {
    name: 'gamma',
    iamRole: 'arn:aws:iam::333333333333:role/builders',
    instanceId: 'i-0c0000000000000c3',
  },
  {
    name: 'delta',
    iamRole: 'arn:aws:iam::444444444444:role/rebuilder',
    instanceId: 'i-0d0000000000000d4',
  },
];

/** A fixed clock for attestations (ms): 2026-01-15T12:00:00Z. */
export const ATTESTED_AT = Date.UTC(2026, 0, 15, 12, 0, 0);
/** A verifier clock shortly after ATTESTED_AT. */
export const VERIFIED_AT = ATTESTED_AT + 60_000;

export const DEFAULT_COMMIT = '3b18e512dba79e4c8300dd08aeb37f8e728b8dad';
export const DEFAULT_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
export const DEFAULT_REPOSITORY = 'https://github.com/example/hello';
export const DEFAULT_NONCE = '6e6f6e63652d666f722d746573742d3031';

/** The default outputs: a binary and a text file. */
export function defaultOutputs(): Record<string, Uint8Array | string> {
  return {
    'target/release/hello': new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 1, 2, 3]),
    'target/release/VERSION': 'hello 1.0.0\ncommit 3b18e51\n',
  };
}

export interface MakeBundleOptions {
  builder?: SimulatedBuilder;
  /** Image from the catalog (default: the newest image for `language`). */
  image?: ImageEntry;
  language?: ImageLanguage;
  outputs?: Record<string, Uint8Array | string>;
  /** build.json's `output.files` (default: the outputs' names), e.g. a glob for odd names. */
  outputFiles?: string[];
  commit?: string | null;
  tree?: string;
  repository?: string | null;
  /** Hex nonce (the client's). */
  nonce?: string;
  /** Nonce given to the NSM when it should differ from the statement's. */
  attestedNonce?: string | null;
  /** The NSM's clock (ms); default ATTESTED_AT. */
  at?: number;
  /** Debug mode: PCR0-2 all zero. */
  debug?: boolean;
  /** PCR0-2 to attest instead of the image's simulated measurements. */
  pcrs?: { pcr0: string; pcr1: string; pcr2: string };
  log?: string;
  /** The image the statement names, when it should differ from the attested one. */
  statementImage?: { name: string; version: string; pcr0: string; pcr1: string; pcr2: string };
  /**
   * Further subjects given only by name and digest (large artifacts on disk, e.g. for benchmarks):
   * the statement lists them; a `writer` must add their bytes.
   */
  digests?: { name: string; sha256: string }[];
  /** Writes the bundle instead of `encodeBundle` (e.g. a hostile writer that skips the name rules). */
  writer?: (input: BundleWriteInput) => Promise<Uint8Array>;
  /** Rewrites provenance.json before it is attested (for statements that are attested but invalid). */
  provenance?: (bytes: Uint8Array) => Uint8Array;
  /**
   * A builder key: provenance.dsse.json is signed with it and the attestation carries its public
   * key, as the worker does with a sealed key. `attestedKey` overrides the public_key attested
   * (null: none); `envelope` rewrites the envelope's bytes.
   */
  sign?: {
    signer: DsseSigner;
    attestedKey?: Uint8Array | null;
    envelope?: (bytes: Uint8Array) => Uint8Array;
  };
  /** Byproducts after build.log (the source's origin: commit/tag objects, OIDC token). */
  byproducts?: ResourceDescriptor[];
}

export interface MadeBundle {
  /** The bundle (.tar.gz). */
  bytes: Uint8Array;
  contents: BundleContents;
  statement: ProvenanceStatement;
  builder: SimulatedBuilder;
  image: ImageEntry;
  /** PCR3 (hex) of the builder. */
  pcr3: string;
  nonce: string;
}

let catalog: Promise<Awaited<ReturnType<typeof loadImageCatalog>>> | undefined;

/** The published image for `language` from enclave/images.json. */
export async function catalogImage(language: ImageLanguage = 'rust'): Promise<ImageEntry> {
  catalog ??= loadImageCatalog();
  return findImage(await catalog, { language });
}

const te = new TextEncoder();
const bytesOf = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? te.encode(v) : v);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** PCR3 (hex) of a builder, as AWS measures its IAM role. */
export function builderPcr3(b: SimulatedBuilder): string {
  return toHex(pcr3ForIamRole(b.iamRole));
}

/** Makes one attested bundle, as a simulated builder would return it. */
export async function makeBundle(opts: MakeBundleOptions = {}): Promise<MadeBundle> {
  const builder = opts.builder ?? BUILDERS[0]!;
  const image = opts.image ?? (await catalogImage(opts.language ?? 'rust'));
  const outputs = Object.entries(opts.outputs ?? defaultOutputs()).map(
    ([name, v]) => [name, bytesOf(v)] as const,
  );
  const nonce = opts.nonce ?? DEFAULT_NONCE;
  const at = opts.at ?? ATTESTED_AT;
  const zero = '00'.repeat(48);
  const measured = opts.debug
    ? { pcr0: zero, pcr1: zero, pcr2: zero }
    : (opts.pcrs ?? image.simulated);
  const log = te.encode(opts.log ?? `building with ${image.name} ${image.version}\nfinished\n`);
  const commit = opts.commit === undefined ? DEFAULT_COMMIT : opts.commit;
  const repository = opts.repository === undefined ? DEFAULT_REPOSITORY : opts.repository;
  const source = {
    commit,
    tree: opts.tree ?? DEFAULT_TREE,
    objectFormat: 'sha1' as const,
    dirty: false,
    ...(repository === null ? {} : { repository }),
  };
  const statement = buildStatement({
    source,
    config: parseBuildConfig({
      language: image.language,
      input: { cmd: 'cargo build --release --locked' },
      output: {
        files: [
          ...(opts.outputFiles ?? outputs.map(([n]) => n)),
          ...(opts.digests ?? []).map((d) => d.name),
        ],
      },
    }),
    dependencies: [],
    toolchain: [],
    outputs: [
      ...outputs.map(([name, b]) => ({ name, sha256: sha256(b) })),
      ...(opts.digests ?? []),
    ],
    image: {
      language: image.language,
      ...(opts.statementImage ?? { name: image.name, version: image.version, ...measured }),
    },
    nonce,
    isolation: { backend: 'local', network: 'netns' },
    backend: 'local',
    builderVersion: { 'tee-compile': '0.1.0' },
    invocationId: `${builder.name}-${at}`,
    startedOn: new Date(at - 30_000),
    finishedOn: new Date(at - 1_000),
    buildLogSha256: sha256(log),
    ...(opts.byproducts !== undefined ? { byproducts: opts.byproducts } : {}),
  });
  const canonical = serializeStatement(statement);
  const provenance = opts.provenance === undefined ? canonical : opts.provenance(canonical);
  const nsm = await SoftwareNsm.create({
    pcrs: new Map([
      [0, fromHex(measured.pcr0)],
      [1, fromHex(measured.pcr1)],
      [2, fromHex(measured.pcr2)],
      [3, pcr3ForIamRole(builder.iamRole)],
      [4, pcr4ForInstanceId(builder.instanceId)],
    ]),
    moduleId: `${builder.instanceId}-enc0123456789abcdef`,
    clock: () => at,
  });
  const attestedNonce = opts.attestedNonce === undefined ? nonce : opts.attestedNonce;
  let envelope: Uint8Array | undefined;
  if (opts.sign !== undefined) {
    const e = encodeEnvelope(
      await signEnvelope(opts.sign.signer, IN_TOTO_PAYLOAD_TYPE, provenance),
    );
    envelope = opts.sign.envelope === undefined ? e : opts.sign.envelope(e);
  }
  const attestation = await new NsmClient(nsm).attest({
    userData: new Uint8Array(createHash('sha256').update(provenance).digest()),
    nonce: attestedNonce === null ? null : fromHex(attestedNonce),
    publicKey:
      opts.sign === undefined
        ? null
        : opts.sign.attestedKey === undefined
          ? opts.sign.signer.spki
          : opts.sign.attestedKey,
  });
  const input: BundleWriteInput = {
    provenance,
    ...(envelope !== undefined ? { envelope } : {}),
    attestation,
    log,
    artifacts: outputs.map(([name, b]) => ({ name, bytes: b })),
  };
  const bytes = await (opts.writer ?? encodeBundle)(input);
  return {
    bytes,
    contents:
      opts.writer === undefined
        ? await readBundle(bytes)
        : { provenance, attestation, log, artifacts: new Map(outputs) },
    statement,
    builder,
    image,
    pcr3: builderPcr3(builder),
    nonce,
  };
}

/** The bundle again after `edit` changed its contents (for tampering tests). */
export async function rebundle(
  contents: BundleContents,
  edit: (c: BundleContents) => void = () => undefined,
): Promise<Uint8Array> {
  const c: BundleContents = {
    provenance: contents.provenance,
    ...(contents.envelope !== undefined ? { envelope: contents.envelope } : {}),
    attestation: contents.attestation,
    log: contents.log,
    artifacts: new Map(contents.artifacts),
  };
  edit(c);
  return encodeBundle({
    provenance: c.provenance,
    ...(c.envelope !== undefined ? { envelope: c.envelope } : {}),
    attestation: c.attestation,
    log: c.log,
    artifacts: [...c.artifacts].map(([name, bytes]) => ({ name, bytes })),
  });
}

/** Writes bundle bytes to `dir/name` and returns the path. */
export async function writeBundleBytes(
  dir: string,
  name: string,
  bytes: Uint8Array,
): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}
