/**
 * The builder's signature, after the build command has exited (the jailed build never coexists
 * with the key): an ephemeral RSA key, an NSM attestation carrying it (`public_key`), the host's
 * KMS Decrypt for that document (CiphertextForRecipient, which only this worker can open), the
 * builder's P-256 private key, and a DSSE envelope over the exact provenance.json bytes. The
 * host never sees the plaintext key; the key lives in this process's memory until it exits.
 */
import { createHash } from 'node:crypto';
import type { NsmClient } from '../attestation/index.js';
import type { DsseSigner } from '../dsse/index.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  cryptoKeySigner,
  encodeEnvelope,
  importP256PrivateKey,
  isDsseError,
  keyFingerprint,
  signEnvelope,
} from '../dsse/index.js';
import { isKmsError, newRecipientKey, openForRecipient } from '../kms/index.js';
import type { ReceivedBuild } from '../protocol/index.js';
import { WorkerError } from '../protocol/index.js';
import { fromHex } from '../util/hex.js';

/** Unseals the builder key announced in the request (see the module comment). */
export async function unsealBuilderKey(
  nsm: NsmClient,
  build: ReceivedBuild,
  provenance: Uint8Array,
): Promise<DsseSigner> {
  const want = build.request.signing?.keyFingerprint;
  if (want === undefined) throw new WorkerError('WORKER_INTERNAL', 'no builder key was announced');
  const recipient = newRecipientKey();
  let doc: Uint8Array;
  try {
    doc = await nsm.attest({
      publicKey: recipient.spki,
      userData: new Uint8Array(createHash('sha256').update(provenance).digest()),
      nonce: fromHex(build.request.nonce, 'nonce'),
    });
  } catch (e) {
    throw new WorkerError(
      'ATTESTATION_FAILED',
      `the NSM did not attest the unsealing key: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const answer = await build.unseal(doc);
  let signer: DsseSigner;
  try {
    const { privateKey, spki } = await importP256PrivateKey(
      await openForRecipient(answer, recipient),
    );
    signer = cryptoKeySigner(privateKey, spki);
  } catch (e) {
    if (!isKmsError(e) && !isDsseError(e)) throw e;
    throw new WorkerError('UNSEAL_FAILED', `the builder key cannot be unsealed: ${e.message}`, {
      cause: e,
    });
  }
  const got = await keyFingerprint(signer.spki);
  if (got !== want)
    throw new WorkerError(
      'UNSEAL_FAILED',
      `the unsealed builder key is ${got}, not the announced ${want}`,
      { path: 'signing.keyFingerprint' },
    );
  return signer;
}

/** provenance.dsse.json: the envelope over the exact provenance bytes. */
export async function signProvenance(
  signer: DsseSigner,
  provenance: Uint8Array,
): Promise<Uint8Array> {
  return encodeEnvelope(await signEnvelope(signer, IN_TOTO_PAYLOAD_TYPE, provenance));
}
