/**
 * The attestation step of bundle verification: the document checked against the pinned roots, at
 * its own timestamp, bound to the exact provenance bytes; simulated documents told apart.
 */
import type { VerifyAttestationOptions } from '../attestation/index.js';
import { AWS_NITRO_ROOT_G1, SIMULATION_ROOT, verifyAttestation } from '../attestation/index.js';
import type { AttestationDocument, TrustAnchor } from '../attestation/index.js';
import type { BundleContents } from '../bundle/index.js';
import { TeeCompileError } from '../errors.js';
import type { ProvenanceStatement } from '../provenance/index.js';
import { fromHex, toHex } from '../util/hex.js';
import { sha256 } from './digest.js';
import { VerifyError } from './errors.js';
import { parseProvenance } from './provenance-bound.js';
import type { TrustPolicy, VerifyOptions } from './types.js';

/**
 * Checks the attestation (AWS Nitro docs, attestation_process.md §3): chain at the document's own
 * timestamp, signature, user_data = SHA-256 of provenance.json as in the bundle, nonce, age, debug.
 */
export async function checkAttestation(
  contents: Pick<BundleContents, 'provenance' | 'attestation'>,
  policy: TrustPolicy,
  opts: VerifyOptions,
  seen: { simulated?: boolean; debug?: boolean } = {},
): Promise<{ document: AttestationDocument; simulated: boolean; debug: boolean }> {
  const base: VerifyAttestationOptions = {
    now: opts.now,
    expectedUserData: await sha256(contents.provenance),
    allowDebug: policy.allowDebug,
  };
  if (policy.nonce !== undefined) base.expectedNonce = fromHex(policy.nonce, 'nonce');
  if (policy.maxAgeSeconds !== undefined) base.maxAgeSeconds = policy.maxAgeSeconds;
  if (opts.cache !== undefined) base.cache = opts.cache;
  const anchors: TrustAnchor[] = policy.allowSimulated
    ? [AWS_NITRO_ROOT_G1, SIMULATION_ROOT]
    : [AWS_NITRO_ROOT_G1];
  const r = await verifyAttestation(contents.attestation, { ...base, trustAnchors: anchors });
  if (!r.ok) {
    // When only an expectation failed (nonce, age, user_data, debug), the refusal still says what
    // the document is, SIMULATED or DEBUG, as a pass would.
    Object.assign(seen, await documentFacts(contents, anchors, opts));
    if (r.code === 'CHAIN_UNTRUSTED_ROOT' && !policy.allowSimulated) {
      // Say why precisely when the document is a genuine simulation: the user forgot the flag, or
      // someone passes a simulated bundle off as a real one.
      // Chain and signature only: any other expectation failing must not hide that it is simulated.
      const sim = await verifyAttestation(contents.attestation, {
        trustAnchors: [SIMULATION_ROOT],
        allowDebug: true,
      });
      if (sim.ok) {
        throw new VerifyError(
          'SIMULATED_NOT_ALLOWED',
          'the attestation is SIMULATED (signed by the software NSM under the simulation root, not by AWS Nitro hardware); refused without allowSimulated (--allow-simulated)',
        );
      }
    }
    if (r.code === 'USER_DATA_MISMATCH') {
      // Refused either way; only the code is chosen here.
      const { expectedUserData: _ignored, ...rest } = base;
      throw await userDataRefusal(contents, { ...rest, trustAnchors: anchors }, r.message);
    }
    throw new VerifyError(r.code, `attestation refused: ${r.message}`, { path: attPath(r.path) });
  }
  const simulated = r.trustAnchor.name === SIMULATION_ROOT.name;
  return { document: r.document, simulated, debug: r.debug };
}

/** Whether a document that chains to one of `anchors` is simulated and debug-mode; {} when not. */
async function documentFacts(
  contents: Pick<BundleContents, 'attestation'>,
  anchors: TrustAnchor[],
  opts: VerifyOptions,
): Promise<{ simulated?: boolean; debug?: boolean }> {
  const r = await verifyAttestation(contents.attestation, {
    trustAnchors: anchors,
    allowDebug: true,
    ...(opts.cache === undefined ? {} : { cache: opts.cache }),
  });
  return r.ok ? { simulated: r.trustAnchor.name === SIMULATION_ROOT.name, debug: r.debug } : {};
}

/**
 * The refusal when user_data is not the SHA-256 of provenance.json. Either provenance.json was
 * altered after it was attested (USER_DATA_MISMATCH), or the attestation was made for another
 * build (ATTESTATION_MISMATCH): the document, checked with every expectation but user_data, carries
 * a nonce or NSM facts (module id, PCR3, PCR4) other than those provenance.json records. Editing
 * one of those recorded facts is indistinguishable from that, and is reported the same way.
 */
async function userDataRefusal(
  contents: Pick<BundleContents, 'provenance' | 'attestation'>,
  withoutUserData: VerifyAttestationOptions,
  message: string,
): Promise<VerifyError> {
  const path = 'attestation.payload.user_data';
  const altered = new VerifyError(
    'USER_DATA_MISMATCH',
    `provenance.json was altered after it was attested: ${message}`,
    { path },
  );
  const doc = await verifyAttestation(contents.attestation, withoutUserData);
  if (!doc.ok) return altered;
  const st = recordedStatement(contents.provenance);
  if (st === null) return altered;
  const differing = otherBuildFacts(st, doc.document);
  if (differing.length === 0) return altered;
  return new VerifyError(
    'ATTESTATION_MISMATCH',
    `the attestation belongs to another build: its user_data is not the SHA-256 of provenance.json, and ${differing.join('; ')}`,
    { path },
  );
}

/** provenance.json as a statement, or null when it does not parse (then it was altered). */
function recordedStatement(bytes: Uint8Array): ProvenanceStatement | null {
  try {
    return parseProvenance(bytes);
  } catch (e) {
    if (e instanceof TeeCompileError) return null;
    throw e;
  }
}

/** PCR `i` of `doc` in lower-case hex, or '' when the document has none. */
export function pcrHex(doc: AttestationDocument, i: number): string {
  const v = doc.pcrs.get(i);
  return v === undefined ? '' : toHex(v);
}

const MAX_SHOWN = 100;

function shown(v: string): string {
  const s = v === '' ? '(none)' : v;
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
}

/** The facts of one build that the statement records and the document contradicts. */
function otherBuildFacts(st: ProvenanceStatement, doc: AttestationDocument): string[] {
  const internal = st.predicate.buildDefinition.internalParameters;
  const recorded: [string, unknown, string][] = [
    ['nonce', internal.nonce, doc.nonce === null ? '' : toHex(doc.nonce)],
    ['NSM module id', internal.nsm?.moduleId, doc.moduleId],
    ['PCR3', internal.nsm?.pcr3, pcrHex(doc, 3)],
    ['PCR4', internal.nsm?.pcr4, pcrHex(doc, 4)],
  ];
  const out: string[] = [];
  for (const [name, want, got] of recorded) {
    if (typeof want !== 'string') continue; // not recorded: nothing to compare
    if (want.toLowerCase() === got.toLowerCase()) continue;
    out.push(
      `its ${name} ${shown(got)} differs from the one provenance.json records (${shown(want)})`,
    );
  }
  return out;
}

function attPath(p: string | undefined): string {
  return p === undefined ? 'attestation' : `attestation.${p}`;
}
