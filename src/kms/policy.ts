/**
 * The key policy of a builder key: the account keeps administration (without it a key policy can
 * lock everyone out, AWS KMS key-policy-default.html), and `kms:Decrypt` is allowed to the
 * builder's role only with an attestation document whose measurements are trusted
 * (AWS KMS conditions-nitro-enclaves.html: `kms:RecipientAttestation:ImageSha384`, `…:PCR<n>`).
 * Without a `Recipient` KMS evaluates those keys as absent, so the condition fails and the host
 * alone can never obtain the plaintext.
 */
import { IAM_ROLE_ARN_RE } from '../attestation/index.js';
import { KmsError } from './errors.js';

const HEX96 = /^[0-9a-f]{96}$/;
const ACCOUNT = /^\d{12}$/;

export interface BuilderKeyPolicyInput {
  /** The AWS account that owns the key (its root principal administers it). */
  account: string;
  /** The IAM role of the builder's hosts (the instance profile the agent runs with). */
  builderRole: string;
  /** Trusted images: hex SHA-384 of the enclave image (= PCR0), lower case. */
  images: string[];
  /** How images are matched: `ImageSha384` (default) or `PCR0`. Same value on Nitro. */
  imageKey?: 'ImageSha384' | 'PCR0';
  /** PCR3 of the builder role, required in the attestation too (hex). */
  pcr3?: string;
}

function bad(path: string, why: string): KmsError {
  return new KmsError('KEY_POLICY_INVALID', `${path}: ${why}`, { path });
}

/** The policy document (JSON-ready); throws `KEY_POLICY_INVALID` for malformed inputs. */
export function builderKeyPolicy(input: BuilderKeyPolicyInput): Record<string, unknown> {
  if (!ACCOUNT.test(input.account)) throw bad('account', 'expected a 12-digit AWS account id');
  if (!IAM_ROLE_ARN_RE.test(input.builderRole))
    throw bad('builderRole', 'expected an IAM role ARN like arn:aws:iam::123456789012:role/Name');
  if (input.images.length === 0) throw bad('images', 'name at least one trusted image digest');
  input.images.forEach((d, i) => {
    if (!HEX96.test(d)) throw bad(`images.${i}`, 'expected 96 lower-case hex digits (SHA-384)');
  });
  if (input.pcr3 !== undefined && !HEX96.test(input.pcr3))
    throw bad('pcr3', 'expected 96 lower-case hex digits');
  const conditions: Record<string, string[]> = {
    [`kms:RecipientAttestation:${input.imageKey ?? 'ImageSha384'}`]: [...input.images],
  };
  if (input.pcr3 !== undefined) conditions['kms:RecipientAttestation:PCR3'] = [input.pcr3];
  return {
    Version: '2012-10-17',
    Id: 'tee-compile-builder-key',
    Statement: [
      {
        Sid: 'AccountAdministers',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${input.account}:root` },
        Action: [
          'kms:Describe*',
          'kms:Get*',
          'kms:List*',
          'kms:PutKeyPolicy',
          'kms:GenerateDataKeyPairWithoutPlaintext',
          'kms:ScheduleKeyDeletion',
          'kms:CancelKeyDeletion',
          'kms:TagResource',
        ],
        Resource: '*',
      },
      {
        Sid: 'TrustedEnclavesDecrypt',
        Effect: 'Allow',
        Principal: { AWS: input.builderRole },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: { StringEqualsIgnoreCase: conditions },
      },
    ],
  };
}
