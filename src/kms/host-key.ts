/**
 * The host's builder key, as `tee-compile build --sealed-key` and the agent hold it: the sealed
 * key file read and checked, and its unsealing through KMS `Decrypt` with the worker's attestation
 * document as `Recipient` (credentials from the SDK's chain: the instance role on a Nitro host).
 * The host only ever holds the sealed key and CiphertextForRecipient, never the plaintext key.
 */
import { readBoundedFile } from '../util/node.js';
import { kmsClientFromEnv, kmsUnsealer } from './client.js';
import { KmsError } from './errors.js';
import { MAX_SEALED_KEY_FILE_BYTES, parseSealedKey } from './sealed-key.js';

/** A sealed builder key ready to be unsealed for workers. */
export interface HostBuilderKey {
  /** `sha256:<hex>` of the public key: announced to the worker, which checks the unsealed key. */
  fingerprint: string;
  /** KMS Decrypt for the worker's attestation document; resolves with CiphertextForRecipient. */
  unseal: (attestation: Uint8Array) => Promise<Uint8Array>;
  /** Releases the KMS client. */
  close: () => void;
}

export interface HostBuilderKeyOptions {
  /** The KMS region; default the one recorded in the file. */
  region?: string;
  /** KMS endpoint (a VPC endpoint; tests); default `AWS_ENDPOINT_URL_KMS` or the SDK's own. */
  endpoint?: string;
}

/**
 * Reads the sealed key file `file` (`SEALED_KEY_INVALID` when malformed; an unreadable file
 * rejects with the system's error) and makes its KMS client from `env`.
 */
export async function openHostBuilderKey(
  file: string,
  env: NodeJS.ProcessEnv,
  o: HostBuilderKeyOptions = {},
): Promise<HostBuilderKey> {
  let text: string;
  try {
    text = (await readBoundedFile(file, MAX_SEALED_KEY_FILE_BYTES)).toString('utf8');
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException).code === 'string') throw e;
    throw new KmsError('SEALED_KEY_INVALID', `${file}: ${(e as Error).message}`, { cause: e });
  }
  const sealed = await parseSealedKey(text, file);
  const client = await kmsClientFromEnv(o.region ?? sealed.region, env, o.endpoint);
  return {
    fingerprint: sealed.fingerprint,
    unseal: kmsUnsealer(client, sealed),
    close: () => client.destroy(),
  };
}
