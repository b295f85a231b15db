/**
 * The nitro backend's settings, sizing and CID choice, and the backend factory.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../src/enclave/backends.js';
import { LocalBackend } from '../../src/enclave/local.js';
import { NitroBackend } from '../../src/enclave/nitro.js';
import {
  DEFAULT_BRIDGE_COMMAND,
  DEFAULT_CID_RANGE,
  ownerForDirectory,
  parseNitroBackendConfig,
  resolveOwner,
} from '../../src/enclave/nitro-config.js';
import { NitroConfigError } from '../../src/enclave/nitro-errors.js';
import {
  detectThreadsPerCore,
  enclaveCpuCount,
  DEPS_MEMORY_FACTOR,
  MIN_ENCLAVE_MEMORY_MIB,
  SOURCE_MEMORY_FACTOR,
  enclaveMemory,
  enclaveMemoryMiB,
  minimumMemoryForEif,
  pickCid,
} from '../../src/enclave/nitro-sizing.js';

const MiB = 1024 * 1024;

function configError(input: unknown): NitroConfigError {
  try {
    parseNitroBackendConfig(input);
  } catch (e) {
    if (e instanceof NitroConfigError) return e;
    throw e;
  }
  throw new Error('expected a NitroConfigError');
}

describe('nitro settings', () => {
  it('when only the images directory is given, the defaults are socat, port 5000 and a CID range clear of reserved CIDs', () => {
    const c = parseNitroBackendConfig({ imagesDir: '/srv/eif' });
    expect(c).toMatchObject({
      nitroCli: 'nitro-cli',
      bridgeCommand: [...DEFAULT_BRIDGE_COMMAND],
      vsockPort: 5000,
      cidRange: DEFAULT_CID_RANGE,
      simulation: false,
    });
    expect(c.cidRange.min).toBeGreaterThan(3);
  });

  it('when a field is invalid, the error names it', () => {
    expect(configError({})).toMatchObject({ code: 'NITRO_CONFIG_INVALID', path: 'imagesDir' });
    const cid = configError({ imagesDir: '/x', cidRange: { min: 3, max: 10 } });
    expect(cid.path).toBe('cidRange.min');
    expect(cid.message).toMatch(/^nitro\.cidRange\.min: /);
    expect(configError({ imagesDir: '/x', cidRange: { min: 20, max: 10 } }).path).toBe(
      'cidRange.min',
    );
    expect(configError({ imagesDir: '/x', cidRange: { min: 4, max: 4294967295 } }).path).toBe(
      'cidRange.max',
    );
    expect(configError({ imagesDir: '/x', owner: 'a-b' }).path).toBe('owner');
    expect(configError({ imagesDir: '/x', bridgeCommand: ['socat', '-'] }).path).toBe(
      'bridgeCommand',
    );
    expect(configError({ imagesDir: '/x', pool: { cpus: 0, memoryMiB: 10 } }).path).toBe(
      'pool.cpus',
    );
    expect(configError({ imagesDir: '/x', extra: 1 }).message).toContain('extra');
  });

  it('when no owner is given, it derives one from the data directory, different for different directories', () => {
    const a = resolveOwner({ owner: undefined, dataDir: '/var/lib/a' });
    expect(a).toBe(ownerForDirectory('/var/lib/a'));
    expect(a).toMatch(/^[a-z0-9]{1,24}$/);
    expect(a).not.toBe(resolveOwner({ owner: undefined, dataDir: '/var/lib/b' }));
    expect(resolveOwner({ owner: 'agent1', dataDir: '/var/lib/a' })).toBe('agent1');
    // Owners have no '-', so no owner's prefix tee-compile-<owner>- is another's.
    expect(new NitroBackend({ imagesDir: '/x', owner: 'ab' }).namePrefix).toBe('tee-compile-ab-');
  });
});

describe('nitro sizing', () => {
  it('when the EIF is large, the image takes 4 × its size in whole MiB, as nitro-cli computes it, on top of the build', () => {
    expect(minimumMemoryForEif(100 * MiB)).toBe(400);
    expect(minimumMemoryForEif(100 * MiB + 1)).toBe(404);
    expect(enclaveMemoryMiB(256, 100 * MiB + 1)).toBe(256 + 404);
  });

  it('when the build asks for little or an odd amount, memory is at least 64 MiB in 2 MiB pages', () => {
    expect(enclaveMemoryMiB(1, 1000)).toBe(64);
    // 4095 + 4 (a 1000-byte EIF is one MiB, times 4) = 4099 -> 4100.
    expect(enclaveMemoryMiB(4095, 1000)).toBe(4100);
    expect(enclaveMemoryMiB(4096, 1000)).toBe(4100);
  });

  it('when the inputs are known, the build gets its request in full beside the image and the unpacked inputs', () => {
    // 4096 build + 4 × 30 image + ⌈(2 × 50 MiB + 6 × 200 MiB) / 1 MiB⌉ inputs.
    const m = enclaveMemory(4096, 30 * MiB, { sourceBytes: 50 * MiB, depsBytes: 200 * MiB });
    expect(m).toEqual({
      buildMiB: 4096,
      imageMiB: 120,
      inputsMiB: SOURCE_MEMORY_FACTOR * 50 + DEPS_MEMORY_FACTOR * 200,
      totalMiB: 4096 + 120 + 1300,
    });
    expect(enclaveMemoryMiB(4096, 30 * MiB, { sourceBytes: 50 * MiB, depsBytes: 200 * MiB })).toBe(
      m.totalMiB,
    );
    // A few bytes of input still take a whole MiB, and the total whole 2 MiB pages.
    expect(enclaveMemory(100, 1, { sourceBytes: 10, depsBytes: 0 })).toEqual({
      buildMiB: 100,
      imageMiB: 4,
      inputsMiB: 1,
      totalMiB: 106,
    });
    expect(enclaveMemory(101, 1, { sourceBytes: 10, depsBytes: 0 }).totalMiB).toBe(106);
  });

  it('whatever the inputs, the memory is never below what nitro-cli requires for the EIF (E26)', () => {
    for (const eif of [1, MiB - 1, MiB, 7 * MiB + 3, 333 * MiB])
      for (const requested of [1, 63, 64, 1000])
        for (const sourceBytes of [0, 1, 5 * MiB]) {
          const total = enclaveMemoryMiB(requested, eif, { sourceBytes, depsBytes: 0 });
          expect(total).toBeGreaterThanOrEqual(minimumMemoryForEif(eif));
          expect(total * MiB).toBeGreaterThanOrEqual(4 * eif);
          expect(total).toBeGreaterThanOrEqual(MIN_ENCLAVE_MEMORY_MIB);
          expect(total % 2).toBe(0);
        }
  });

  it('when the host has two threads per core, vCPUs are rounded up to whole cores', () => {
    expect(enclaveCpuCount(1, 2)).toBe(2);
    expect(enclaveCpuCount(3, 2)).toBe(4);
    expect(enclaveCpuCount(4, 2)).toBe(4);
    expect(enclaveCpuCount(3, 1)).toBe(3);
  });

  it('when sysfs lists CPU siblings, the threads per core are counted from it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tc-sysfs-'));
    const f = join(dir, 'siblings');
    await writeFile(f, '0,4\n');
    expect(await detectThreadsPerCore(f)).toBe(2);
    await writeFile(f, '0-3\n');
    expect(await detectThreadsPerCore(f)).toBe(4);
    expect(await detectThreadsPerCore(join(dir, 'missing'))).toBe(1);
    await rm(dir, { recursive: true, force: true });
  });

  it('when CIDs are taken, a free one in the range is picked, and none when the range is full', () => {
    const range = { min: 100, max: 103 };
    let i = 0;
    const seq = [0, 0, 0.3, 0.6];
    const random = (): number => seq[i++ % seq.length]!;
    expect(pickCid(range, new Set([100]), random)).toBe(101);
    for (let n = 0; n < 50; n++) {
      const cid = pickCid(range, new Set([100, 102]))!;
      expect([101, 103]).toContain(cid);
    }
    expect(pickCid(range, new Set([100, 101, 102, 103]))).toBeUndefined();
  });
});

describe('backend factory', () => {
  it('when asked for nitro or local, it makes that backend; nitro settings are validated', () => {
    const nitro = createBackend('nitro', { nitro: { imagesDir: '/srv/eif', owner: 'x1' } });
    expect(nitro).toBeInstanceOf(NitroBackend);
    expect(nitro.name).toBe('nitro');
    expect(createBackend('local')).toBeInstanceOf(LocalBackend);
    expect(() => createBackend('nitro', { nitro: { imagesDir: '' } })).toThrowWithCode(
      'NITRO_CONFIG_INVALID',
    );
    expect(() => createBackend('nitro')).toThrowWithCode('NITRO_CONFIG_INVALID');
    expect(() => createBackend('docker')).toThrow(TypeError);
  });
});
