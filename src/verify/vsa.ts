/**
 * SLSA Verification Summary Attestations (https://slsa.dev/spec/v1.0/verification_summary): the
 * verdict of a `verify` run as an in-toto statement, for a consensus job to publish as one signed
 * answer (DSSE, src/dsse/). Pure: the clock, the verifier's id and the policy digest are given.
 */
import type { DsseSigner } from '../dsse/index.js';
import { IN_TOTO_PAYLOAD_TYPE, encodeEnvelope, signEnvelope } from '../dsse/index.js';
import { canonicalJsonBytes } from '../provenance/index.js';
import { toHex } from '../util/hex.js';
import { sha256Hex } from './digest.js';
import type { SetReport } from './report.js';
import type { TrustPolicy } from './types.js';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** The verifier id written into VSAs. */
export const VSA_VERIFIER_ID = 'https://github.com/tee-compile/tee-compile/verify';

/** SHA-256 of the effective trust policy in canonical JSON (binary fields as hex). */
export async function policyDigest(policy: TrustPolicy): Promise<string> {
  const plain = JSON.parse(
    JSON.stringify(policy, (_k, v: unknown) =>
      v instanceof Uint8Array
        ? toHex(v)
        : v instanceof Map
          ? (Object.fromEntries(v as Map<unknown, unknown>) as unknown)
          : v,
    ),
  ) as unknown;
  return sha256Hex(canonicalJsonBytes(plain));
}

export interface VsaInput {
  report: SetReport;
  /** Where the policy came from (a file name, or `tee-compile:flags`). */
  policyUri: string;
  policySha256: string;
  /** ISO 8601 time of the verification. */
  time: string;
  version: string;
}

/** Distinct builders of the agreeing group (names, or PCR3). */
function agreeingBuilders(r: SetReport): number {
  return new Set(r.agreeing).size;
}

/**
 * The VSA statement. `verifiedLevels`: SLSA_BUILD_LEVEL_3 for hardware-attested builds
 * (SLSA_BUILD_LEVEL_1 for simulated ones, which attest nothing about hardware), plus
 * SLSA_BUILD_REPRODUCED when at least two distinct trusted builders produced identical outputs.
 */
export function buildVsa(input: VsaInput): Record<string, unknown> {
  const r = input.report;
  const passed = r.ok;
  const reproduced = passed && r.majority && agreeingBuilders(r) >= 2;
  const levels = passed
    ? [
        r.simulated || r.debug ? 'SLSA_BUILD_LEVEL_1' : 'SLSA_BUILD_LEVEL_3',
        ...(reproduced ? ['SLSA_BUILD_REPRODUCED'] : []),
      ]
    : [];
  const repo = r.source?.repository ?? null;
  const commit = r.source?.commit ?? null;
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: r.subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: VSA_VERIFIER_ID, version: { 'tee-compile': input.version } },
      timeVerified: input.time,
      resourceUri:
        repo !== null && commit !== null ? `git+${repo}@${commit}` : (r.bundles[0]?.bundle ?? ''),
      policy: { uri: input.policyUri, digest: { sha256: input.policySha256 } },
      inputAttestations: r.bundles.map((b) => ({ uri: b.bundle })),
      verificationResult: passed ? 'PASSED' : 'FAILED',
      verifiedLevels: levels,
      slsaVersion: '1.0',
    },
  };
}

/**
 * The VSA of `input` signed by `signer`: the bytes of a DSSE envelope (payloadType
 * `application/vnd.in-toto+json`), as `verify --emit-vsa` and the action write them.
 */
export async function signVsa(input: VsaInput, signer: DsseSigner): Promise<Uint8Array> {
  const payload = new TextEncoder().encode(JSON.stringify(buildVsa(input)));
  return encodeEnvelope(await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, payload));
}
