/**
 * The page's verification, with the library and the policy rules of `tee-compile verify`: the
 * trusted images of the version the page was built from (enclave/images.json), a policy file and
 * the link's settings as the CLI's flags, and one bundle verified alone or several as a k-of-n
 * set, reported in the CLI's `--json` shape. DOM-free.
 */
import {
  AWS_NITRO_ROOT_G1,
  MAX_DOCUMENT_BYTES,
  SIMULATION_ROOT,
  verifyAttestation,
} from '../../src/attestation/index.js';
import type {
  VerifyAttestationOptions,
  VerifyAttestationResult,
} from '../../src/attestation/index.js';
import {
  buildTrustPolicy,
  isVerifyError,
  setReport,
  singleBundleReport,
  verifyBundle,
  verifyBundles,
} from '../../src/index.js';
import type {
  BundleVerification,
  NamedBundle,
  PolicyFlags,
  SetReport,
  TrustPolicy,
  TrustedImage,
} from '../../src/index.js';
import { fromHex } from '../../src/util/hex.js';
import { parseImageCatalog, trustedImages } from '../../src/catalog/index.js';
import catalog from '../../enclave/images.json' with { type: 'json' };
import type { OnProgress, PageInput } from './inputs.js';
import { chunks, readUpTo } from './inputs.js';

/** The images published with the version this page was built from. */
export const DEFAULT_IMAGES: readonly TrustedImage[] = trustedImages(parseImageCatalog(catalog));

/** What the person chose: the policy file and the settings of the link or the form. */
export interface Settings {
  allowSimulated: boolean;
  nonce?: string;
  commit?: string;
  policy?: { name: string; bytes: Uint8Array };
}

/** The policy as `tee-compile verify --policy … --nonce … --commit … [--allow-simulated]` builds it. */
export function pagePolicy(s: Settings): TrustPolicy {
  const flags: PolicyFlags = { allowSimulated: s.allowSimulated, allowDebug: false };
  if (s.nonce !== undefined && s.nonce !== '') flags.nonce = s.nonce;
  if (s.commit !== undefined && s.commit !== '') flags.commit = s.commit;
  const input: Parameters<typeof buildTrustPolicy>[0] = { defaultImages: DEFAULT_IMAGES, flags };
  if (s.policy !== undefined) input.file = { text: s.policy.bytes, name: s.policy.name };
  return buildTrustPolicy(input);
}

/** A verification's report (the CLI's `--json` object) and each bundle's own result. */
export interface BundlesOutcome {
  kind: 'bundles';
  report: SetReport;
  results: { bundle: string; result: BundleVerification }[];
  policy: TrustPolicy;
}

/** An attestation document checked alone. */
export interface AttestationOutcome {
  kind: 'attestation';
  name: string;
  result: VerifyAttestationResult;
  simulatedAllowed: boolean;
}

/** Nothing was judged: the policy is invalid, or a file could not be read. */
export interface ErrorOutcome {
  kind: 'error';
  code: string;
  message: string;
  /** The link to download instead, for a fetch the host refused. */
  url?: string;
}

export type Outcome = BundlesOutcome | AttestationOutcome | ErrorOutcome;

/** Policy errors are not verdicts on a bundle (the CLI exits 2 for them). */
export function policyOrError(s: Settings): TrustPolicy | ErrorOutcome {
  try {
    return pagePolicy(s);
  } catch (e) {
    if (!isVerifyError(e)) throw e;
    return { kind: 'error', code: e.code, message: e.message };
  }
}

/**
 * Verifies bundles as `tee-compile verify` does: one bundle with k = 1 alone, otherwise as a set.
 * Each bundle is read as a stream; `progress(i, read)` says how far bundle `i` got.
 */
export async function verifyInputs(
  inputs: readonly PageInput[],
  policy: TrustPolicy,
  progress: (i: number, read: number) => void,
  now: number = Date.now(),
): Promise<BundlesOutcome> {
  const named: NamedBundle[] = inputs.map((input, i) => ({
    name: input.name,
    source: chunks(input, (read) => progress(i, read)),
  }));
  if (named.length === 1 && policy.minBuilders <= 1) {
    const r = await verifyBundle(named[0]!.source, policy, { now });
    return {
      kind: 'bundles',
      report: singleBundleReport(named[0]!.name, r),
      results: [{ bundle: named[0]!.name, result: r }],
      policy,
    };
  }
  const s = await verifyBundles(named, policy, { now });
  return { kind: 'bundles', report: setReport(s), results: s.bundles, policy };
}

/**
 * Checks an attestation document alone, as `tee-compile attestation verify` does: its chain to
 * the AWS Nitro root (and the simulation root when simulated builds are accepted) at the
 * document's own time, its signature, and the nonce when one is expected.
 */
export async function verifyDocument(
  input: PageInput,
  policy: TrustPolicy,
  onProgress: OnProgress,
  now: number = Date.now(),
): Promise<AttestationOutcome> {
  // One byte past the limit is enough for the verifier to refuse an oversized document.
  const bytes = await readUpTo(input, MAX_DOCUMENT_BYTES + 1);
  onProgress(bytes.length);
  const opts: VerifyAttestationOptions = {
    now,
    trustAnchors: policy.allowSimulated
      ? [AWS_NITRO_ROOT_G1, SIMULATION_ROOT]
      : [AWS_NITRO_ROOT_G1],
  };
  if (policy.nonce !== undefined) opts.expectedNonce = fromHex(policy.nonce, 'nonce');
  return {
    kind: 'attestation',
    name: input.name,
    result: await verifyAttestation(bytes, opts),
    simulatedAllowed: policy.allowSimulated,
  };
}
