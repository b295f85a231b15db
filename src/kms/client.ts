/**
 * The KMS calls of the builder key, through @aws-sdk/client-kms (credentials and endpoint from the
 * SDK's usual chain: the instance role on a Nitro host; `AWS_ENDPOINT_URL_KMS` or `endpoint` to
 * point it elsewhere). Every failure becomes a `KmsError` whose code names KMS's refusal.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type * as KmsSdk from '@aws-sdk/client-kms';
import type { DsseSigner } from '../dsse/index.js';
import { keyFingerprint } from '../dsse/index.js';
import { KmsError } from './errors.js';
import type { SealedBuilderKey } from './sealed-key.js';

export interface KmsSettings {
  region: string;
  /** Endpoint override (tests, VPC endpoints); default the SDK's resolution. */
  endpoint?: string;
}

type Sdk = typeof KmsSdk;
let sdk: Promise<Sdk> | undefined;
/** Loaded on first use: the worker shares this module's face but never calls KMS. */
function loadSdk(): Promise<Sdk> {
  sdk ??= import('@aws-sdk/client-kms');
  return sdk;
}

/** A KMS client for `settings`. */
export async function kmsClient(settings: KmsSettings): Promise<KMSClient> {
  const { KMSClient: Client } = await loadSdk();
  return new Client({
    region: settings.region,
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
    maxAttempts: 2,
  });
}

/**
 * A client for `region` configured from `env` (the CLI's environment, which tests replace):
 * `AWS_ENDPOINT_URL_KMS` or `AWS_ENDPOINT_URL` overrides the endpoint, and static credentials
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) are used when set; otherwise
 * the SDK's default chain (the instance role on a Nitro host). `endpointOverride` (a configured
 * VPC endpoint) wins over the environment.
 */
export async function kmsClientFromEnv(
  region: string,
  env: NodeJS.ProcessEnv,
  endpointOverride?: string,
): Promise<KMSClient> {
  const { KMSClient: Client } = await loadSdk();
  const endpoint = endpointOverride ?? env.AWS_ENDPOINT_URL_KMS ?? env.AWS_ENDPOINT_URL;
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  return new Client({
    region,
    maxAttempts: 2,
    ...(endpoint ? { endpoint } : {}),
    ...(id && secret
      ? {
          credentials: {
            accessKeyId: id,
            secretAccessKey: secret,
            ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
}

/** Turns an SDK failure into our error; `what` names the call. */
export function kmsFailure(e: unknown, what: string): KmsError {
  const name = (e as { name?: unknown } | null)?.name;
  const msg = `${what}: ${typeof name === 'string' ? `${name}: ` : ''}${(e as Error)?.message ?? String(e)}`;
  const code =
    name === 'AccessDeniedException'
      ? 'KMS_ACCESS_DENIED'
      : name === 'InvalidCiphertextException'
        ? 'KMS_CIPHERTEXT_INVALID'
        : name === 'NotFoundException'
          ? 'KMS_KEY_NOT_FOUND'
          : 'KMS_REQUEST_FAILED';
  return new KmsError(code, msg, { cause: e });
}

async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw kmsFailure(e, what);
  }
}

/** What `createBuilderKey` made. */
export interface CreatedBuilderKey {
  sealed: SealedBuilderKey;
  policy: Record<string, unknown>;
}

/**
 * CreateKey (symmetric), PutKeyPolicy with `policy`, then GenerateDataKeyPairWithoutPlaintext
 * (ECC_NIST_P256) under it: the private key leaves KMS only encrypted.
 */
export async function createBuilderKey(
  client: KMSClient,
  settings: KmsSettings,
  policy: Record<string, unknown>,
  description = 'tee-compile builder key (decrypt only inside trusted enclave images)',
): Promise<CreatedBuilderKey> {
  const { CreateKeyCommand, PutKeyPolicyCommand, GenerateDataKeyPairWithoutPlaintextCommand } =
    await loadSdk();
  const created = await call('CreateKey', () =>
    client.send(
      new CreateKeyCommand({
        KeySpec: 'SYMMETRIC_DEFAULT',
        KeyUsage: 'ENCRYPT_DECRYPT',
        Description: description,
      }),
    ),
  );
  const arn = created.KeyMetadata?.Arn;
  if (arn === undefined) throw new KmsError('KMS_REQUEST_FAILED', 'CreateKey returned no key ARN');
  await call('PutKeyPolicy', () =>
    client.send(
      new PutKeyPolicyCommand({
        KeyId: arn,
        PolicyName: 'default',
        Policy: JSON.stringify(policy),
      }),
    ),
  );
  const pair = await call('GenerateDataKeyPairWithoutPlaintext', () =>
    client.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({ KeyId: arn, KeyPairSpec: 'ECC_NIST_P256' }),
    ),
  );
  if (pair.PrivateKeyCiphertextBlob === undefined || pair.PublicKey === undefined)
    throw new KmsError(
      'KMS_REQUEST_FAILED',
      'GenerateDataKeyPairWithoutPlaintext returned no key pair',
    );
  const publicKey = new Uint8Array(pair.PublicKey);
  return {
    sealed: {
      kmsKeyArn: arn,
      region: settings.region,
      encryptedPrivateKey: new Uint8Array(pair.PrivateKeyCiphertextBlob),
      publicKey,
      fingerprint: await keyFingerprint(publicKey),
    },
    policy,
  };
}

/**
 * The host's half of unsealing: Decrypt of the sealed private key for the enclave that made
 * `attestation` (Recipient, RSAES_OAEP_SHA_256). Returns CiphertextForRecipient, which only that
 * enclave can open; KMS never returns the plaintext here.
 */
export function kmsUnsealer(
  client: KMSClient,
  sealed: SealedBuilderKey,
): (attestation: Uint8Array) => Promise<Uint8Array> {
  return async (attestation) => {
    const { DecryptCommand } = await loadSdk();
    const out = await call('Decrypt', () =>
      client.send(
        new DecryptCommand({
          KeyId: sealed.kmsKeyArn,
          CiphertextBlob: sealed.encryptedPrivateKey,
          Recipient: {
            KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            AttestationDocument: attestation,
          },
        }),
      ),
    );
    if (out.CiphertextForRecipient === undefined || out.Plaintext !== undefined)
      throw new KmsError(
        'KMS_REQUEST_FAILED',
        'Decrypt did not answer with CiphertextForRecipient alone',
      );
    return new Uint8Array(out.CiphertextForRecipient);
  };
}

/** A DSSE signer over an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): GetPublicKey, then Sign. */
export async function kmsSigner(client: KMSClient, keyId: string): Promise<DsseSigner> {
  const { GetPublicKeyCommand, SignCommand } = await loadSdk();
  const pub = await call('GetPublicKey', () =>
    client.send(new GetPublicKeyCommand({ KeyId: keyId })),
  );
  if (pub.PublicKey === undefined || pub.KeySpec !== 'ECC_NIST_P256')
    throw new KmsError(
      'KMS_REQUEST_FAILED',
      `GetPublicKey: ${keyId} is ${pub.KeySpec ?? 'unknown'}, not an ECC_NIST_P256 signing key`,
    );
  return {
    spki: new Uint8Array(pub.PublicKey),
    sign: async (data) => {
      const out = await call('Sign', () =>
        client.send(
          new SignCommand({
            KeyId: keyId,
            Message: data,
            MessageType: 'RAW',
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      );
      if (out.Signature === undefined)
        throw new KmsError('KMS_REQUEST_FAILED', 'Sign returned no signature');
      return new Uint8Array(out.Signature);
    },
  };
}
