/**
 * The attestation step of bundle verification: the document checked against the pinned roots, at
 * its own timestamp, bound to the exact provenance bytes; simulated documents told apart.
 */
import type { VerifyAttestationOptions } from '../attestation/index.js';
import { AWS_NITRO_ROOT_G1, SIMULATION_ROOT, verifyAttestation } from '../attestation/index.js';
import type { AttestationDocument, TrustAnchor } from '../attestation/types.js';
import type { BundleContents } from '../bundle/index.js';
import { fromHex } from '../util/hex.js';
import { sha256 } from './digest.js';
import { VerifyError } from './errors.js';
import type { TrustPolicy, VerifyOptions } from './types.js';

/**
 * Checks the attestation (AWS Nitro docs, attestation_process.md §3): chain at the document's own
 * timestamp, signature, user_data = SHA-256 of provenance.json as in the bundle, nonce, age, debug.
 */
export async function checkAttestation(
  contents: BundleContents,
  policy: TrustPolicy,
  opts: VerifyOptions,
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
    throw new VerifyError(r.code, `attestation refused: ${r.message}`, { path: attPath(r.path) });
  }
  const simulated = r.trustAnchor.name === SIMULATION_ROOT.name;
  return { document: r.document, simulated, debug: r.debug };
}

function attPath(p: string | undefined): string {
  return p === undefined ? 'attestation' : `attestation.${p}`;
}
