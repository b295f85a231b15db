import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadImageCatalog } from '../../src/catalog/node.js';
import { loadDefaultImages, loadTrustPolicy, openBundleFile } from '../../src/verify/node.js';
import { tempDirSync } from '../support/temp.js';

describe('verify, Node face', () => {
  it('when the published images are loaded, each carries its simulated measurements from enclave/images.json', async () => {
    const catalog = await loadImageCatalog();
    const images = await loadDefaultImages();
    expect(images.map((i) => `${i.name}@${i.version}`)).toEqual(
      catalog.images.map((i) => `${i.name}@${i.version}`),
    );
    expect(images[0]!.simulated).toEqual(catalog.images[0]!.simulated);
  });

  it('when the image catalog cannot be read, building the policy is refused with POLICY_INVALID', async () => {
    await expect(loadDefaultImages(join(tmpdir(), 'no-such-catalog.json'))).rejects.toHaveCode(
      'POLICY_INVALID',
    );
  });

  it('when a policy file and flags are given, the policy combines them over the published images', async () => {
    const dir = tempDirSync('policy-');
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ minBuilders: 1, maxAgeSeconds: 600 }));
    const p = await loadTrustPolicy({ policyFile: file, flags: { allowSimulated: true } });
    expect(p.maxAgeSeconds).toBe(600);
    expect(p.allowSimulated).toBe(true);
    expect(p.images.length).toBeGreaterThan(0);
    await expect(loadTrustPolicy({ policyFile: dir })).rejects.toHaveCode('POLICY_INVALID');
  });

  it('when a bundle path is missing or a directory, opening it fails at once with the file system error', async () => {
    const dir = tempDirSync('open-');
    await expect(openBundleFile(join(dir, 'nope'))).rejects.toHaveProperty('code', 'ENOENT');
    await expect(openBundleFile(dir)).rejects.toHaveProperty('code', 'EISDIR');
  });
});
