/**
 * The harness loop shared by `npm test` and test/long: verify each case (a typed result, never a
 * throw), then unpack every accepted one with the four extractors and collect the differences.
 */
import { createChainCache } from '../../../src/attestation/index.js';
import { readBundle } from '../../../src/bundle/index.js';
import type { BundleVerification, TrustPolicy } from '../../../src/verify/index.js';
import { VERIFY_ERROR_CODES, verifyBundle } from '../../../src/verify/index.js';
import { ATTESTATION_ERROR_CODES } from '../../../src/attestation/index.js';
import { VERIFIED_AT } from './bundle-factory.js';
import { extractionDifferences } from './bundle-extract.js';

const KNOWN = new Set<string>([...VERIFY_ERROR_CODES, ...ATTESTATION_ERROR_CODES]);

export interface HarnessRun {
  cases: number;
  accepted: number;
  /** Refusals by code. */
  codes: Map<string, number>;
  /** Results that are neither a verdict nor a refusal with a known code. */
  untyped: string[];
  /** How accepted bundles extracted differently from what was verified. */
  differences: string[];
}

/** Runs the harness over `cases` (bytes, with a label for reports). */
export async function runHarness(
  cases: Iterable<{ label: string; bytes: Uint8Array }>,
  policy: TrustPolicy,
  batch = 50,
): Promise<HarnessRun> {
  const run: HarnessRun = { cases: 0, accepted: 0, codes: new Map(), untyped: [], differences: [] };
  const cache = createChainCache();
  let pending: {
    label: string;
    bytes: Uint8Array;
    r: Extract<BundleVerification, { ok: true }>;
  }[] = [];
  const flush = async (): Promise<void> => {
    const found = await extractionDifferences(
      await Promise.all(
        pending.map(async (p) => {
          const c = await readBundle(p.bytes);
          return {
            bytes: p.bytes,
            expected: { verified: p.r, attestation: c.attestation, log: c.log },
          };
        }),
      ),
    );
    found.forEach((d, i) => {
      for (const x of d) run.differences.push(`${pending[i]!.label}: ${x.extractor}: ${x.problem}`);
    });
    pending = [];
  };
  for (const c of cases) {
    run.cases++;
    let r: BundleVerification;
    try {
      r = await verifyBundle(c.bytes, policy, { now: VERIFIED_AT, cache });
    } catch (e) {
      run.untyped.push(`${c.label}: threw ${String(e)}`);
      continue;
    }
    if (r.ok) {
      run.accepted++;
      pending.push({ label: c.label, bytes: c.bytes, r });
      if (pending.length >= batch) await flush();
      continue;
    }
    if (!KNOWN.has(r.code)) run.untyped.push(`${c.label}: unknown code ${r.code}`);
    run.codes.set(r.code, (run.codes.get(r.code) ?? 0) + 1);
  }
  if (pending.length > 0) await flush();
  return run;
}
