/**
 * Sealed builder keys made against the KMS stand-in, as `tee-compile kms create-builder-key`
 * makes them (the same library calls): a key policy trusting the given images (by default the
 * simulated images of enclave/images.json, what the local backend attests) and PCR3 of the
 * simulated role, and builder-key.json written to `dir`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { derToPem, pcr3ForIamRole } from '../../../src/attestation/index.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import { DEFAULT_SIMULATED_ROLE } from '../../../src/enclave/local.js';
import { builderKeyPolicy, formatSealedKey } from '../../../src/kms/index.js';
import { createBuilderKey, kmsClientFromEnv } from '../../../src/kms/node.js';
import { toHex } from '../../../src/util/hex.js';
import type { KmsStandIn } from './kms-standin.js';

/** Static credentials the stand-in accepts (it does not check signatures' keys). */
export const KMS_TEST_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDSTANDIN',
  AWS_SECRET_ACCESS_KEY: 'standin-secret',
} as const;

/** A sealed key as written to disk. */
export interface SealedKeyFile {
  file: string;
  kmsKeyArn: string;
  fingerprint: string;
  /** The public key (PEM), as published for `verify --builder-key`. */
  pem: string;
  pemFile: string;
}

/** Simulated PCR0s of every catalog image (what the local backend attests). */
export async function simulatedImages(): Promise<string[]> {
  const catalog = await loadImageCatalog();
  return [...new Set(catalog.images.map((i) => i.simulated.pcr0.toLowerCase()))];
}

/** Creates a builder key trusting `images` (default the simulated ones) and writes its files. */
export async function sealBuilderKey(
  kms: KmsStandIn,
  dir: string,
  name: string,
  images?: string[],
): Promise<SealedKeyFile> {
  const policy = builderKeyPolicy({
    account: kms.account,
    builderRole: DEFAULT_SIMULATED_ROLE,
    images: images ?? (await simulatedImages()),
    pcr3: toHex(pcr3ForIamRole(DEFAULT_SIMULATED_ROLE)),
  });
  const client = await kmsClientFromEnv(kms.region, { ...KMS_TEST_CREDENTIALS }, kms.url);
  try {
    const { sealed } = await createBuilderKey(client, { region: kms.region }, policy);
    const file = join(dir, `${name}.json`);
    await writeFile(file, formatSealedKey(sealed));
    const pem = derToPem(sealed.publicKey, 'PUBLIC KEY');
    const pemFile = join(dir, `${name}.pem`);
    await writeFile(pemFile, pem);
    return { file, kmsKeyArn: sealed.kmsKeyArn, fingerprint: sealed.fingerprint, pem, pemFile };
  } finally {
    client.destroy();
  }
}
