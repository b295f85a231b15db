/**
 * The key a verification summary (VSA) is signed with: a local ECDSA P-256 key (PKCS #8 PEM) or
 * an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY; KMS `Sign`), for `verify --emit-vsa` and the
 * action's verify mode.
 */
import { pemToDer } from '../attestation/index.js';
import type { DsseSigner } from '../dsse/index.js';
import { DsseError, cryptoKeySigner, importP256PrivateKey } from '../dsse/index.js';
import { kmsClientFromEnv, kmsSigner } from './client.js';
import { KmsError } from './errors.js';

/** A KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`, or an alias ARN). */
const KMS_KEY_ARN =
  /^arn:aws[a-z-]*:kms:([a-z0-9-]{1,32}):\d{12}:(?:key|alias)\/[A-Za-z0-9/_-]{1,256}$/;

/** The region of a KMS key ARN, or null when `arn` is not one. */
export function kmsKeyRegion(arn: string): string | null {
  return KMS_KEY_ARN.exec(arn)?.[1] ?? null;
}

/** Where the VSA's key is. */
export type VsaKey = { keyPem: string } | { kmsKeyArn: string };

/**
 * A signer for `key` and what releases it. A PEM that is not one PKCS #8 EC P-256 private key is
 * `DSSE_KEY_INVALID`; a KMS key that is not an ECC_NIST_P256 signing key, or that KMS refuses,
 * is a `KmsError` (`KMS_KEY_NOT_FOUND`, `KMS_ACCESS_DENIED`, `KMS_REQUEST_FAILED`).
 */
export async function openVsaSigner(
  key: VsaKey,
  env: NodeJS.ProcessEnv,
): Promise<{ signer: DsseSigner; close: () => void }> {
  if ('keyPem' in key) {
    let der: Uint8Array;
    try {
      der = pemToDer(key.keyPem, 'PRIVATE KEY');
    } catch (e) {
      throw new DsseError(
        'DSSE_KEY_INVALID',
        'the VSA key is not one PEM PRIVATE KEY block (PKCS #8, EC P-256)',
        { cause: e },
      );
    }
    const k = await importP256PrivateKey(der);
    return { signer: cryptoKeySigner(k.privateKey, k.spki), close: () => undefined };
  }
  const region = kmsKeyRegion(key.kmsKeyArn);
  if (region === null)
    throw new KmsError('KMS_KEY_NOT_FOUND', `${key.kmsKeyArn} is not a KMS key ARN`);
  const client = await kmsClientFromEnv(region, env);
  try {
    return { signer: await kmsSigner(client, key.kmsKeyArn), close: () => client.destroy() };
  } catch (e) {
    client.destroy();
    throw e;
  }
}
