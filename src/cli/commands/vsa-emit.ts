/**
 * `verify --emit-vsa FILE`: writes the verdict as a SLSA VSA in a DSSE envelope, signed with a
 * local P-256 key (`--vsa-key FILE`, PKCS #8 PEM) or an asymmetric KMS key (`--vsa-kms-key ARN`,
 * KMS Sign).
 */
import { writeFile } from 'node:fs/promises';
import { pemToDer } from '../../attestation/index.js';
import type { DsseSigner } from '../../dsse/index.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  cryptoKeySigner,
  encodeEnvelope,
  importP256PrivateKey,
  signEnvelope,
} from '../../dsse/index.js';
import type { SetReport, TrustPolicy } from '../../verify/index.js';
import { buildVsa, policyDigest } from '../../verify/index.js';
import { kmsClientFromEnv, kmsSigner } from '../../kms/node.js';
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
  let signer: DsseSigner;
  let close = (): void => undefined;
  if (o.keyPem !== undefined) {
    let der: Uint8Array;
    try {
      der = pemToDer(o.keyPem, 'PRIVATE KEY');
    } catch {
      throw new UsageError('--vsa-key: expected one PEM PRIVATE KEY block (PKCS #8, EC P-256)');
    }
    const k = await importP256PrivateKey(der).catch(() => {
      throw new UsageError('--vsa-key: expected an EC P-256 private key');
    });
    signer = cryptoKeySigner(k.privateKey, k.spki);
  } else if (o.kmsKeyArn !== undefined) {
    const region = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(o.kmsKeyArn)?.[1];
    if (region === undefined) throw new UsageError('--vsa-kms-key: expected a KMS key ARN');
    const client = await kmsClientFromEnv(region, o.env);
    close = () => client.destroy();
    signer = await kmsSigner(client, o.kmsKeyArn);
  } else {
    throw new UsageError('--emit-vsa needs --vsa-key <pem> or --vsa-kms-key <arn>');
  }
  try {
    const statement = buildVsa({
      report,
      policyUri: o.policyUri,
      policySha256: await policyDigest(policy),
      time: new Date().toISOString(),
      version: o.version,
    });
    const payload = new TextEncoder().encode(JSON.stringify(statement));
    await writeFile(
      o.file,
      encodeEnvelope(await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, payload)),
    );
  } finally {
    close();
  }
}
