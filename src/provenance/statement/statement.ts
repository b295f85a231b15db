/**
 * provenance.json: an in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
 * carrying a SLSA Provenance v1 predicate (https://slsa.dev/spec/v1.0/provenance): its shape,
 * serialised to its canonical bytes (RFC 8785: what the attestation's `user_data` hashes) and
 * parsed strictly from untrusted bytes, as the verify path needs it. Building one (in the worker)
 * is in ./build.ts. Pure.
 */
import * as z from 'zod';
import { buildConfigSchema } from '../config/build-config.js';
import { NotJsonError, canonicalJsonBytes } from './canonical-json.js';
import { compareUtf8, decodeUtf8 } from '../../util/encoding.js';
import { provenanceError } from '../errors.js';
import { readOrigin } from '../source/origin.js';
import {
  buildConfigDescriptor,
  isToolchainDescriptor,
  isValidWorkdir,
  merkleRootOfDescriptors,
  sortDependencyDescriptors,
  sourceDescriptor,
} from './inputs.js';
import { bytesEqual } from '../../util/hex.js';
import type { ProvenanceStatement, SourceIdentity } from '../types.js';

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
/** Our buildType: its meaning (fields, checks) is documented in docs/provenance.md. */
export const BUILD_TYPE = 'https://tee-compile.dev/build-types/enclave/v1';
/** Builder ids: `https://tee-compile.dev/builders/<backend>/v1`. */
export function builderId(backend: string): string {
  return `https://tee-compile.dev/builders/${backend}/v1`;
}
/** provenance.json larger than this is refused before parsing. */
export const MAX_STATEMENT_BYTES = 32 * 1024 * 1024;

const HEX = /^[0-9a-f]+$/;
const HEX64 = /^[0-9a-f]{64}$/;
const PCR = /^[0-9a-f]{96}$/;
const NONCE = /^(?:[0-9a-f]{2}){1,512}$/;
const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** RFC 3339 UTC timestamps as `Date.toISOString()` writes them (seconds or milliseconds). */
const TIMESTAMP = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?Z$/;

const descriptorSchema = z.strictObject({
  name: z.string().min(1).optional(),
  uri: z.string().min(1).optional(),
  digest: z.record(z.string().min(1), z.string().regex(HEX)).optional(),
  content: z.string().optional(),
  annotations: z.record(z.string(), z.unknown()).optional(),
});

const statementSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        digest: z.strictObject({ sha256: z.string().regex(HEX64) }),
      }),
    )
    .min(1),
  predicateType: z.literal(PREDICATE_TYPE),
  predicate: z.strictObject({
    buildDefinition: z.strictObject({
      buildType: z.literal(BUILD_TYPE),
      externalParameters: z.strictObject({
        source: z.strictObject({
          repository: z.string().min(1).nullable(),
          gitCommit: z.string().regex(OID).nullable(),
          gitTree: z.string().regex(OID),
          objectFormat: z.enum(['sha1', 'sha256']),
        }),
        config: buildConfigSchema,
        workdir: z.string().min(1).refine(isValidWorkdir, {
          error: 'expected "." or a relative path without "..", "." or empty segments',
        }),
      }),
      internalParameters: z.strictObject({
        image: z.strictObject({
          name: z.string().min(1),
          version: z.string().min(1),
          language: z.string().min(1),
          pcr0: z.string().regex(PCR),
          pcr1: z.string().regex(PCR),
          pcr2: z.string().regex(PCR),
        }),
        nonce: z.string().regex(NONCE),
        network: z.literal('none'),
        isolation: z.record(z.string(), z.unknown()),
        inputMerkleRoot: z.string().regex(HEX64),
        nsm: z.record(z.string(), z.unknown()).optional(),
        workspace: z.record(z.string(), z.unknown()).optional(),
        timings: z.record(z.string(), z.number().int().nonnegative()).optional(),
      }),
      resolvedDependencies: z.array(descriptorSchema).min(1),
    }),
    runDetails: z.strictObject({
      builder: z.strictObject({
        id: z.string().regex(/^https:\/\/tee-compile\.dev\/builders\/[a-z0-9][a-z0-9-]*\/v1$/),
        version: z.record(z.string(), z.string()),
      }),
      metadata: z.strictObject({
        invocationId: z.string().min(1),
        startedOn: z.string().regex(TIMESTAMP),
        finishedOn: z.string().regex(TIMESTAMP),
      }),
      byproducts: z.array(descriptorSchema).optional(),
    }),
  }),
});

/** Throws STATEMENT_INVALID for provenance.json, naming the field at `path`. */
export function invalid(message: string, path?: string): never {
  throw provenanceError(
    'STATEMENT_INVALID',
    `provenance.json: ${path === undefined ? '' : `${path}: `}${message}`,
    path,
  );
}

/** Subject names are paths the verifier looks up: relative, no `..`, no empty or `.` segment. */
function checkSubjectName(name: string, path: string): void {
  if (name.startsWith('/') || name.includes('\\') || name.includes('\0'))
    invalid('not a relative path', path);
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..'))
    invalid('path with an empty, "." or ".." segment', path);
}

/** Recomputes the input Merkle root from a statement's own content (see ./inputs.ts). */
export function statementInputMerkleRoot(st: ProvenanceStatement): string {
  const bd = st.predicate.buildDefinition;
  const [source, ...rest] = bd.resolvedDependencies;
  if (source === undefined)
    invalid(
      'resolvedDependencies must start with the source',
      'predicate.buildDefinition.resolvedDependencies',
    );
  const deps = sortDependencyDescriptors(rest.filter((d) => !isToolchainDescriptor(d)));
  const ep = bd.externalParameters;
  return merkleRootOfDescriptors([source, buildConfigDescriptor(ep.config, ep.workdir), ...deps]);
}

/**
 * Checks what the schema cannot: subjects sorted and unique with safe names, the first resolved
 * dependency is the source as externalParameters state it, dependencies then toolchain in order,
 * times in order, and the Merkle root matches the recorded inputs.
 */
function checkSemantics(st: ProvenanceStatement): void {
  const names = new Set<string>();
  st.subject.forEach((s, i) => {
    const p = `subject.${i}.name`;
    checkSubjectName(s.name, p);
    if (names.has(s.name)) invalid(`duplicate subject ${JSON.stringify(s.name)}`, p);
    names.add(s.name);
    const prev = st.subject[i - 1];
    if (prev !== undefined && compareUtf8(prev.name, s.name) > 0)
      invalid('subjects must be sorted by name', p);
  });
  const bd = st.predicate.buildDefinition;
  const src = bd.externalParameters.source;
  if (src.gitCommit !== null && src.gitCommit.length !== src.gitTree.length) {
    invalid(
      'gitCommit and gitTree use different object formats',
      'predicate.buildDefinition.externalParameters.source',
    );
  }
  if (src.gitTree.length !== (src.objectFormat === 'sha1' ? 40 : 64)) {
    invalid(
      `gitTree is not a ${src.objectFormat} id`,
      'predicate.buildDefinition.externalParameters.source.gitTree',
    );
  }
  const identity: SourceIdentity = {
    commit: src.gitCommit,
    tree: src.gitTree,
    objectFormat: src.objectFormat,
    dirty: false,
  };
  if (src.repository !== null) identity.repository = src.repository;
  const expected = canonicalJsonBytes(sourceDescriptor(identity));
  const first = bd.resolvedDependencies[0];
  if (first === undefined || !bytesEqual(canonicalJsonBytes(first), expected)) {
    invalid(
      'the first resolved dependency must be the source, as externalParameters.source states it',
      'predicate.buildDefinition.resolvedDependencies.0',
    );
  }
  const rest = bd.resolvedDependencies.slice(1);
  const firstTool = rest.findIndex(isToolchainDescriptor);
  const deps = firstTool < 0 ? rest : rest.slice(0, firstTool);
  const tools = firstTool < 0 ? [] : rest.slice(firstTool);
  if (tools.some((t) => !isToolchainDescriptor(t))) {
    invalid(
      'toolchain entries must come after every dependency',
      'predicate.buildDefinition.resolvedDependencies',
    );
  }
  const sorted = sortDependencyDescriptors(deps);
  if (!sorted.every((d, i) => bytesEqual(canonicalJsonBytes(d), canonicalJsonBytes(deps[i]!)))) {
    invalid('dependencies must be sorted by uri', 'predicate.buildDefinition.resolvedDependencies');
  }
  const md = st.predicate.runDetails.metadata;
  if (md.finishedOn < md.startedOn)
    invalid('finishedOn is before startedOn', 'predicate.runDetails.metadata.finishedOn');
  readOrigin(st);
  const root = statementInputMerkleRoot(st);
  if (root !== bd.internalParameters.inputMerkleRoot) {
    invalid(
      `inputMerkleRoot ${bd.internalParameters.inputMerkleRoot} does not match the recorded inputs (${root})`,
      'predicate.buildDefinition.internalParameters.inputMerkleRoot',
    );
  }
}

function validate(value: unknown): ProvenanceStatement {
  const r = statementSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    invalid(
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.join(', ')}`
        : issue.message,
      path,
    );
  }
  const st = r.data as ProvenanceStatement;
  checkSemantics(st);
  return st;
}

/**
 * The canonical bytes of a statement: RFC 8785 JSON, UTF-8, no trailing newline. These exact
 * bytes are provenance.json and what the attestation's `user_data` hashes (SHA-256).
 */
export function serializeStatement(st: ProvenanceStatement): Uint8Array {
  try {
    return canonicalJsonBytes(st);
  } catch (err) {
    if (err instanceof NotJsonError) invalid(err.message, err.path);
    throw err;
  }
}

/**
 * Parses provenance.json from untrusted bytes: size bound, strict UTF-8 and JSON, the schema
 * (unknown fields refused, every failure reported with its path), the checks of
 * `checkSemantics`, and the canonical form (the bytes must be exactly what `serializeStatement`
 * writes, so no two byte strings parse to the same statement). Throws STATEMENT_INVALID or
 * STATEMENT_NOT_CANONICAL, never a raw SyntaxError.
 */
export function parseStatement(bytes: Uint8Array): ProvenanceStatement {
  if (bytes.length > MAX_STATEMENT_BYTES) invalid(`larger than ${MAX_STATEMENT_BYTES} bytes`);
  const text = decodeUtf8(bytes);
  if (text === null) invalid('not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // SyntaxError, or RangeError for absurd nesting: both are bad input here.
    throw provenanceError(
      'STATEMENT_INVALID',
      `provenance.json: not valid JSON: ${(err as Error).message}`,
      undefined,
      err,
    );
  }
  const st = validate(value);
  let canonical: Uint8Array;
  try {
    canonical = canonicalJsonBytes(value);
  } catch (err) {
    if (err instanceof NotJsonError) invalid(err.message, err.path);
    throw err;
  }
  if (!bytesEqual(canonical, bytes)) {
    throw provenanceError(
      'STATEMENT_NOT_CANONICAL',
      'provenance.json: not in canonical form (RFC 8785 JSON, UTF-8, no whitespace, sorted keys); it must be the exact bytes tee-compile wrote',
    );
  }
  return st;
}
