/**
 * The agent's budget counts what the backend really takes: whole cores, and for nitro the memory
 * it will ask nitro-cli for (the build's request, 4 × the EIF, the inputs), so that builds wait
 * for room instead of failing with E27 when the pool is full.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stat } from 'node:fs/promises';
import { backendSizing } from '../../src/agent/resources.js';
import { createBackend } from '../../src/enclave/backends.js';
import type { NitroBackend } from '../../src/enclave/nitro.js';
import { enclaveMemory } from '../../src/enclave/nitro-sizing.js';
import type { EnclaveBackend, EnclaveSpec } from '../../src/enclave/types.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';

let host: StandinHost;
let nitro: NitroBackend;
beforeAll(async () => {
  host = await createStandinHost();
  nitro = createBackend('nitro', {
    catalog: host.catalog,
    nitro: host.backendConfig({ owner: 'sizing' }),
  }) as NitroBackend;
});
afterAll(async () => {
  await host.remove();
});

/** The catalog's go image, as a spec names it. */
function go(): EnclaveSpec['image'] {
  const e = host.catalog.images.find((i) => i.language === 'go')!;
  return { name: e.name, version: e.version, language: 'go' };
}

describe('backendSizing', () => {
  it('when the backend is nitro, memory is what it asks nitro-cli for, inputs included, and CPUs are whole cores', async () => {
    const spec = {
      buildId: 'b1',
      image: go(),
      cpus: 3,
      memoryMiB: 4096,
      timeoutMs: 60_000,
      inputs: { sourceBytes: 10 * 1024 * 1024, depsBytes: 3 * 1024 * 1024 },
    };
    const eifBytes = (await stat(host.eifs['go']!)).size;
    const expected = enclaveMemory(4096, eifBytes, spec.inputs).totalMiB;
    // The build's 4096 MiB, 2 × 10 MiB of source, 6 × 3 MiB of dependencies, 4 × the EIF.
    expect(expected).toBeGreaterThanOrEqual(4096 + 20 + 18 + 4 * Math.ceil(eifBytes / 2 ** 20));
    expect(await backendSizing(nitro, 2)(spec)).toEqual({ cpus: 4, memoryMiB: expected });
  });

  it('when the image is not in the catalog, it counts the build’s request (start() then says what is wrong)', async () => {
    const spec: EnclaveSpec = {
      buildId: 'b2',
      image: { name: 'tee-compile-go', version: '99.0.0', language: 'go' },
      cpus: 2,
      memoryMiB: 4096,
      timeoutMs: 60_000,
    };
    expect(await nitro.memoryFor(spec)).toBe(4096);
  });

  it('when the backend does not size memory itself (local), the build’s request is counted', async () => {
    const local = { name: 'local' } as unknown as EnclaveBackend;
    const spec: EnclaveSpec = {
      buildId: 'b3',
      image: go(),
      cpus: 2,
      memoryMiB: 2048,
      timeoutMs: 60_000,
    };
    expect(await backendSizing(local, 1)(spec)).toEqual({ cpus: 2, memoryMiB: 2048 });
  });
});
