/**
 * OpenPGP signatures of git objects (`gpg --detach-sign` over git's payload), verified with
 * OpenPGP.js (RSA, EdDSA, ECDSA; RFC 4880 and RFC 9580). Runs in browsers and Node alike. Keys
 * are checked at the signature's own creation time, so that a key that has since expired (or a
 * bundle read years later) gives the same verdict as on the day of signing, and a key that had
 * already expired when it signed does not verify.
 *
 * OpenPGP.js (~800 KB) is loaded on first use: most builds and verifications check no OpenPGP
 * signature, and a bundle (the CLI, the worker) then leaves it in a chunk it never compiles.
 */
import type * as OpenPgp from 'openpgp';
import { toHex } from '../util/hex.js';
import { SignatureError } from './errors.js';

/** Largest armored OpenPGP signature, and public key, read. */
export const MAX_PGP_SIGNATURE_CHARS = 64 * 1024;
export const MAX_PGP_KEY_CHARS = 256 * 1024;

let loaded: Promise<typeof OpenPgp> | undefined;
/** OpenPGP.js, imported once. */
function pgp(): Promise<typeof OpenPgp> {
  return (loaded ??= import('openpgp'));
}

/** A public key given as trust (or by the client to the worker). */
export interface PgpKey {
  /** Primary key fingerprint, upper-case hex. */
  fingerprint: string;
  /** The key's first user id, e.g. `Alice <alice@acme>`, or its fingerprint. */
  name: string;
  key: OpenPgp.PublicKey;
  armored: string;
}

/** Reads an armored public key. Throws PGP_KEY_INVALID naming `name`. */
export async function readPgpKey(armored: string, name = 'key'): Promise<PgpKey> {
  if (armored.length > MAX_PGP_KEY_CHARS)
    throw new SignatureError(
      'PGP_KEY_INVALID',
      `${name}: larger than ${MAX_PGP_KEY_CHARS} characters`,
      { path: name },
    );
  let key: OpenPgp.Key;
  try {
    key = await (await pgp()).readKey({ armoredKey: armored });
  } catch (e) {
    throw new SignatureError(
      'PGP_KEY_INVALID',
      `${name}: not an armored OpenPGP public key (${(e as Error).message})`,
      {
        path: name,
        cause: e,
      },
    );
  }
  if (key.isPrivate())
    throw new SignatureError(
      'PGP_KEY_INVALID',
      `${name}: a private key; give the public key (gpg --export --armor)`,
      { path: name },
    );
  const fingerprint = key.getFingerprint().toUpperCase();
  return {
    fingerprint,
    name: key.getUserIDs()[0] ?? fingerprint,
    key: key,
    armored,
  };
}

/** The outcome of checking an OpenPGP signature against the keys given. */
export interface PgpVerification {
  /** Issuer fingerprint (upper-case hex) when the signature names one, else its 16-digit key id. */
  issuer: string;
  /** The key among those given that made the signature, when one did and it verifies. */
  signer: PgpKey | null;
  verified: boolean;
  reason?: string;
}

/**
 * Verifies a detached armored signature over `payload` with `keys`. Throws SIGNATURE_MALFORMED
 * for a signature that cannot be read; a readable one that does not verify (or whose key is not
 * among `keys`) is `verified: false` with a reason.
 */
export async function verifyPgpSignature(
  armored: string,
  payload: Uint8Array,
  keys: readonly PgpKey[],
): Promise<PgpVerification> {
  if (armored.length > MAX_PGP_SIGNATURE_CHARS)
    throw new SignatureError(
      'SIGNATURE_MALFORMED',
      `OpenPGP signature larger than ${MAX_PGP_SIGNATURE_CHARS} characters`,
    );
  let signature: OpenPgp.Signature;
  try {
    signature = await (await pgp()).readSignature({ armoredSignature: armored });
  } catch (e) {
    throw new SignatureError(
      'SIGNATURE_MALFORMED',
      `OpenPGP signature is malformed: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const packet = signature.packets[0];
  if (packet === undefined || signature.packets.length !== 1)
    throw new SignatureError(
      'SIGNATURE_MALFORMED',
      'OpenPGP signature must hold exactly one signature packet',
    );
  const issuer =
    packet.issuerFingerprint !== null && packet.issuerFingerprint !== undefined
      ? toHex(packet.issuerFingerprint).toUpperCase()
      : packet.issuerKeyID.toHex().toUpperCase();
  const keyId = packet.issuerKeyID;
  const candidate = keys.find((k) => k.key.getKeys(keyId).length > 0);
  if (candidate === undefined)
    return { issuer, signer: null, verified: false, reason: 'no key given for its issuer' };
  try {
    const openpgp = await pgp();
    const message = await openpgp.createMessage({ binary: payload });
    const result = await openpgp.verify({
      message,
      signature,
      verificationKeys: candidate.key,
      format: 'binary',
      date: packet.created ?? undefined,
      expectSigned: false,
    });
    await result.signatures[0]!.verified;
    return { issuer, signer: candidate, verified: true };
  } catch (e) {
    return { issuer, signer: null, verified: false, reason: (e as Error).message };
  }
}
