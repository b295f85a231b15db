/**
 * Building provenance.json in the worker: the in-toto statement of a build from what the worker
 * checked and measured, checked on the way out as the verify path checks it (./statement.ts).
 * Pure.
 */
import { compareUtf8 } from '../../util/encoding.js';
import { toHex } from '../../util/hex.js';
import { dependencyDescriptorList, sourceDescriptor } from './inputs.js';
import {
  BUILD_TYPE,
  PREDICATE_TYPE,
  STATEMENT_TYPE,
  builderId,
  invalid,
  parseStatement,
  serializeStatement,
  statementInputMerkleRoot,
} from './statement.js';
import type {
  BuildConfig,
  ImageIdentity,
  LockedDependency,
  ProvenanceStatement,
  ResourceDescriptor,
  SourceIdentity,
  ToolchainComponent,
} from '../types.js';

const BACKEND = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Inputs of `buildStatement`. */
export interface StatementParams {
  source: SourceIdentity;
  /** The normalised build.json. */
  config: BuildConfig;
  /** Directory of build.json relative to the source root (default `.`). */
  workdir?: string;
  dependencies: readonly LockedDependency[];
  toolchain: readonly ToolchainComponent[];
  /** Every output, relative to the source root, with its SHA-256 (hex). */
  outputs: readonly { name: string; sha256: string }[];
  image: ImageIdentity;
  /** The client's nonce (bytes or hex). */
  nonce: Uint8Array | string;
  /** What isolation the backend applied (a plain JSON object). */
  isolation: object;
  /** DescribeNSM and PCR values read in the enclave (a plain JSON object). */
  nsm?: object | undefined;
  /** Backend name in the builder id, e.g. `nitro` or `local`. */
  backend: string;
  /** Versions of the builder's parts, e.g. `{ "tee-compile": "0.1.0" }`. */
  builderVersion: Record<string, string>;
  invocationId: string;
  startedOn: Date | string;
  finishedOn: Date | string;
  /** SHA-256 (hex) of build.log, recorded as a byproduct. */
  buildLogSha256?: string;
  /** More byproducts, after build.log (the source's origin: see ../source/origin.ts). */
  byproducts?: readonly ResourceDescriptor[];
  /** What the build's work tree held beyond the source (e.g. the `.git` the worker wrote). */
  workspace?: object | undefined;
  /** Milliseconds each phase of the worker took, up to the provenance. */
  timings?: Record<string, number> | undefined;
}

function time(t: Date | string): string {
  return typeof t === 'string' ? t : t.toISOString();
}

/** The toolchain as resource descriptors (annotated `toolchain: true`; not Merkle leaves). */
export function toolchainDescriptors(
  toolchain: readonly ToolchainComponent[],
): ResourceDescriptor[] {
  return [...toolchain]
    .sort((a, b) => compareUtf8(a.name, b.name) || compareUtf8(a.path, b.path))
    .map((c) => ({
      name: c.name,
      digest: { sha256: c.sha256 },
      annotations: { toolchain: true, version: c.version, path: c.path },
    }));
}

/**
 * Builds the provenance statement of a build. The result is checked as `parseStatement` checks
 * untrusted input; a bad parameter throws STATEMENT_INVALID naming the field.
 */
export function buildStatement(params: StatementParams): ProvenanceStatement {
  if (!BACKEND.test(params.backend))
    invalid(
      `backend ${JSON.stringify(params.backend)} must be lower-case letters, digits and "-"`,
      'predicate.runDetails.builder.id',
    );
  const subjects = params.outputs
    .map((o) => ({ name: o.name, digest: { sha256: o.sha256 } }))
    .sort((a, b) => compareUtf8(a.name, b.name));
  const resolved = [
    sourceDescriptor(params.source),
    ...dependencyDescriptorList(params.dependencies),
    ...toolchainDescriptors(params.toolchain),
  ];
  const internal: ProvenanceStatement['predicate']['buildDefinition']['internalParameters'] = {
    // Hex is recorded in lower case, whatever case the caller used.
    image: {
      ...params.image,
      pcr0: params.image.pcr0.toLowerCase(),
      pcr1: params.image.pcr1.toLowerCase(),
      pcr2: params.image.pcr2.toLowerCase(),
    },
    nonce: typeof params.nonce === 'string' ? params.nonce.toLowerCase() : toHex(params.nonce),
    network: 'none',
    isolation: { ...params.isolation },
    inputMerkleRoot: '',
  };
  if (params.nsm !== undefined) internal.nsm = { ...params.nsm };
  if (params.workspace !== undefined) internal.workspace = { ...params.workspace };
  if (params.timings !== undefined) internal.timings = { ...params.timings };
  const st: ProvenanceStatement = {
    _type: STATEMENT_TYPE,
    subject: subjects,
    predicateType: PREDICATE_TYPE,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          source: {
            repository: params.source.repository ?? null,
            gitCommit: params.source.commit,
            gitTree: params.source.tree,
            objectFormat: params.source.objectFormat,
          },
          config: params.config,
          workdir: params.workdir ?? '.',
        },
        internalParameters: internal,
        resolvedDependencies: resolved,
      },
      runDetails: {
        builder: { id: builderId(params.backend), version: { ...params.builderVersion } },
        metadata: {
          invocationId: params.invocationId,
          startedOn: time(params.startedOn),
          finishedOn: time(params.finishedOn),
        },
      },
    },
  };
  const byproducts: ResourceDescriptor[] = [];
  if (params.buildLogSha256 !== undefined)
    byproducts.push({ name: 'build.log', digest: { sha256: params.buildLogSha256 } });
  byproducts.push(...(params.byproducts ?? []));
  if (byproducts.length > 0) st.predicate.runDetails.byproducts = byproducts;
  internal.inputMerkleRoot = statementInputMerkleRoot(st);
  // Round-trip through the canonical form so that what we return is exactly what we would parse.
  return parseStatement(serializeStatement(st));
}
