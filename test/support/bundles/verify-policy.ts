/** Trust policies for verification tests, over the published images (enclave/images.json). */
import { loadDefaultImages } from '../../../src/verify/node.js';
import type { TrustPolicy, TrustedBuilder } from '../../../src/verify/index.js';
import type { SimulatedBuilder } from './bundle-factory.js';
import { BUILDERS, builderPcr3 } from './bundle-factory.js';

/** Builders as a policy lists them (name and PCR3). */
export function trusted(builders: readonly SimulatedBuilder[] = BUILDERS): TrustedBuilder[] {
  return builders.map((b) => ({ name: b.name, pcr3: builderPcr3(b) }));
}

/** A policy trusting the published images, accepting simulated bundles, k = 1, plus `over`. */
export async function simulatedPolicy(over: Partial<TrustPolicy> = {}): Promise<TrustPolicy> {
  return {
    images: await loadDefaultImages(),
    minBuilders: 1,
    allowDebug: false,
    allowSimulated: true,
    ...over,
  };
}
