/**
 * `verify --emit-vsa FILE`: writes the verdict as a SLSA VSA in a DSSE envelope, signed with a
 * local P-256 key (`--vsa-key FILE`, PKCS #8 PEM) or an asymmetric KMS key (`--vsa-kms-key ARN`,
 * KMS Sign).
 */
import { writeFile } from 'node:fs/promises';
import { isDsseError } from '../../dsse/index.js';
import type { VsaKey } from '../../kms/node.js';
import { kmsKeyRegion, openVsaSigner } from '../../kms/node.js';
import type { SetReport, TrustPolicy } from '../../verify/index.js';
import { policyDigest, signVsa } from '../../verify/index.js';
import { UsageError } from '../io.js';

export interface VsaOptions {
  file: string;
  keyPem?: string;
  kmsKeyArn?: string;
  policyUri: string;
  version: string;
  env: NodeJS.ProcessEnv;
}

/** Writes the signed VSA of `report`. */
export async function emitVsa(
  report: SetReport,
  policy: TrustPolicy,
  o: VsaOptions,
): Promise<void> {
  let key: VsaKey;
  if (o.keyPem !== undefined) key = { keyPem: o.keyPem };
  else if (o.kmsKeyArn !== undefined) {
    if (kmsKeyRegion(o.kmsKeyArn) === null)
      throw new UsageError('--vsa-kms-key: expected a KMS key ARN');
    key = { kmsKeyArn: o.kmsKeyArn };
  } else throw new UsageError('--emit-vsa needs --vsa-key <pem> or --vsa-kms-key <arn>');
  let opened: Awaited<ReturnType<typeof openVsaSigner>>;
  try {
    opened = await openVsaSigner(key, o.env);
  } catch (e) {
    if (!isDsseError(e)) throw e;
    throw new UsageError('--vsa-key: expected one PEM PRIVATE KEY block (PKCS #8, EC P-256)');
  }
  try {
    const envelope = await signVsa(
      {
        report,
        policyUri: o.policyUri,
        policySha256: await policyDigest(policy),
        time: new Date().toISOString(),
        version: o.version,
      },
      opened.signer,
    );
    await writeFile(o.file, envelope);
  } finally {
    opened.close();
  }
}
