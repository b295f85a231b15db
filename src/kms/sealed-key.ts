/**
 * The sealed builder key as kept on the host (`builder-key.json`): the private key encrypted under
 * the KMS key (useless outside a trusted enclave), and the public key published as the builder's.
 *
 *   { "version": 1, "kmsKeyArn": "...", "region": "...",
 *     "encryptedPrivateKey": "<base64 PrivateKeyCiphertextBlob>",
 *     "publicKey": "-----BEGIN PUBLIC KEY-----…", "fingerprint": "sha256:<hex>" }
 */
import { z } from 'zod';
import { derToPem, pemToDer } from '../attestation/index.js';
import { keyFingerprint } from '../dsse/index.js';
import { fromBase64, toBase64 } from '../util/encoding.js';
import { KmsError } from './errors.js';

/** Largest sealed key file read. */
export const MAX_SEALED_KEY_FILE_BYTES = 64 * 1024;

export interface SealedBuilderKey {
  kmsKeyArn: string;
  region: string;
  /** PrivateKeyCiphertextBlob of GenerateDataKeyPairWithoutPlaintext. */
  encryptedPrivateKey: Uint8Array;
  /** SPKI DER of the public key. */
  publicKey: Uint8Array;
  /** `sha256:<hex>` of `publicKey`. */
  fingerprint: string;
}

const fileSchema = z
  .object({
    version: z.literal(1),
    kmsKeyArn: z.string().regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/),
    region: z.string().regex(/^[a-z0-9-]{1,32}$/),
    encryptedPrivateKey: z.string().min(1).max(16384),
    publicKey: z.string().max(4096),
    fingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  })
  .strict();

/** The file's text (pretty JSON, trailing newline). */
export function formatSealedKey(k: SealedBuilderKey): string {
  return `${JSON.stringify(
    {
      version: 1,
      kmsKeyArn: k.kmsKeyArn,
      region: k.region,
      encryptedPrivateKey: toBase64(k.encryptedPrivateKey),
      publicKey: derToPem(k.publicKey, 'PUBLIC KEY'),
      fingerprint: k.fingerprint,
    },
    null,
    2,
  )}\n`;
}

function invalid(where: string, why: string, path?: string): KmsError {
  return new KmsError(
    'SEALED_KEY_INVALID',
    `${where}: ${path ? `${path}: ` : ''}${why}`,
    path ? { path } : undefined,
  );
}

/** Parses a sealed key file's text; throws `SEALED_KEY_INVALID` naming the field. */
export async function parseSealedKey(
  text: string,
  where = 'builder-key.json',
): Promise<SealedBuilderKey> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid(where, 'not JSON');
  }
  const r = fileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue?.path.map(String).join('.') ?? '';
    throw invalid(where, issue?.message ?? 'invalid', path || undefined);
  }
  const f = r.data;
  const blob = fromBase64(f.encryptedPrivateKey);
  if (blob === null) throw invalid(where, 'not standard padded base64', 'encryptedPrivateKey');
  let spki: Uint8Array;
  try {
    spki = pemToDer(f.publicKey, 'PUBLIC KEY');
  } catch {
    throw invalid(where, 'not one PEM PUBLIC KEY block', 'publicKey');
  }
  const fp = await keyFingerprint(spki);
  if (fp !== f.fingerprint)
    throw invalid(where, `the public key's fingerprint is ${fp}`, 'fingerprint');
  return {
    kmsKeyArn: f.kmsKeyArn,
    region: f.region,
    encryptedPrivateKey: blob,
    publicKey: spki,
    fingerprint: fp,
  };
}
