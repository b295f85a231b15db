/**
 * What a signature on a git object says, in two uses. The worker records, for the provenance,
 * the format, the signer's key fingerprint and whether the signature verifies with the key it
 * names (`inspectSignature`). The verifier re-verifies from the raw object against the trust the
 * consumer names, at the object's own time (`judgeSignature`).
 */
import type { AllowedSigner } from './allowed-signers.js';
import { signerRefusal } from './allowed-signers.js';
import { isSignatureError } from './errors.js';
import type { SignedObject } from './git-signed.js';
import type { PgpKey } from './openpgp.js';
import { verifyPgpSignature } from './openpgp.js';
import { parseSshSignature, verifySshSignature } from './sshsig.js';

/** The namespace git signs in (`ssh-keygen -Y sign -n git`). */
export const GIT_NAMESPACE = 'git';

/** A signature as the worker records it in the provenance. */
export interface SignatureRecord {
  format: 'ssh' | 'openpgp' | 'x509' | 'unknown';
  /** SSH key type, e.g. `ssh-ed25519`. */
  keyType?: string;
  /** SSH: `SHA256:…` of the key it carries; OpenPGP: the issuer fingerprint (or key id). */
  keyFingerprint: string | null;
  /**
   * The signature verifies with the key it names (SSH: the key it carries; OpenPGP: a key the
   * client gave). Null when not checked: X.509, or OpenPGP without the key.
   */
  verified: boolean | null;
  reason?: string;
}

/** Trust the consumer names. */
export interface SignerTrust {
  allowedSigners: readonly AllowedSigner[];
  pgpKeys: readonly PgpKey[];
}

/** A verdict on one object's signature against the consumer's trust. */
export type SignatureVerdict =
  | { status: 'unsigned' }
  | { status: 'invalid'; record: SignatureRecord; reason: string }
  | { status: 'untrusted'; record: SignatureRecord; reason: string }
  | { status: 'trusted'; record: SignatureRecord; signer: string };

/** Inspects a signature with the key it names (see module comment); null for an unsigned object. */
export async function inspectSignature(
  signed: SignedObject,
  pgpKeys: readonly PgpKey[] = [],
): Promise<SignatureRecord | null> {
  const sig = signed.signature;
  if (sig === null) return null;
  try {
    if (sig.format === 'ssh') {
      const v = await verifySshSignature(sig.text, signed.payload, GIT_NAMESPACE);
      const r: SignatureRecord = {
        format: 'ssh',
        keyType: v.keyType,
        keyFingerprint: v.fingerprint,
        verified: v.verified,
      };
      if (v.reason !== undefined) r.reason = v.reason;
      return r;
    }
    if (sig.format === 'openpgp') {
      const v = await verifyPgpSignature(sig.text, signed.payload, pgpKeys);
      if (v.signer === null && v.reason === 'no key given for its issuer')
        return { format: 'openpgp', keyFingerprint: v.issuer, verified: null, reason: v.reason };
      const r: SignatureRecord = {
        format: 'openpgp',
        keyFingerprint: v.issuer,
        verified: v.verified,
      };
      if (v.reason !== undefined) r.reason = v.reason;
      return r;
    }
    if (sig.format === 'x509')
      return {
        format: 'x509',
        keyFingerprint: null,
        verified: null,
        reason: 'X.509 signatures are recorded, not verified',
      };
    return {
      format: 'unknown',
      keyFingerprint: null,
      verified: false,
      reason: 'unknown signature format',
    };
  } catch (e) {
    if (!isSignatureError(e)) throw e;
    return {
      format: sig.format ?? 'unknown',
      keyFingerprint: null,
      verified: false,
      reason: e.message,
    };
  }
}

/**
 * Judges a signature against `trust` at `time` (seconds since the epoch: the committer's or
 * tagger's time). SSH: verified with the key it carries, then that key must be an allowed signer
 * for namespace `git` at `time`. OpenPGP: verified with the trusted key of its issuer, at the
 * signature's creation time. X.509: never trusted here.
 */
export async function judgeSignature(
  signed: SignedObject,
  trust: SignerTrust,
  time: number,
): Promise<SignatureVerdict> {
  const sig = signed.signature;
  if (sig === null) return { status: 'unsigned' };
  if (sig.format === 'openpgp') {
    const v = await verifyPgpSignature(sig.text, signed.payload, trust.pgpKeys).catch(
      (e: unknown) => {
        if (!isSignatureError(e)) throw e;
        return e;
      },
    );
    if (!('issuer' in v))
      return {
        status: 'invalid',
        record: { format: 'openpgp', keyFingerprint: null, verified: false },
        reason: v.message,
      };
    const record: SignatureRecord = {
      format: 'openpgp',
      keyFingerprint: v.issuer,
      verified: v.verified,
    };
    if (v.signer === null && v.reason === 'no key given for its issuer')
      return {
        status: 'untrusted',
        record: { ...record, verified: null },
        reason: `OpenPGP key ${v.issuer} is not among the trusted keys`,
      };
    if (!v.verified || v.signer === null)
      return { status: 'invalid', record, reason: v.reason ?? 'bad signature' };
    return {
      status: 'trusted',
      record: { ...record, keyFingerprint: v.signer.fingerprint },
      signer: v.signer.name,
    };
  }
  const record = await inspectSignature(signed);
  if (record === null) return { status: 'unsigned' };
  if (record.format === 'x509')
    return {
      status: 'untrusted',
      record,
      reason: 'X.509 (gitsign) signatures are recorded, not verified',
    };
  if (record.format !== 'ssh' || record.verified !== true)
    return { status: 'invalid', record, reason: record.reason ?? 'bad signature' };
  const key = sshKeyOf(sig.text);
  const reasons: string[] = [];
  for (const s of trust.allowedSigners) {
    const why = signerRefusal(s, key, GIT_NAMESPACE, time);
    if (why === null) return { status: 'trusted', record, signer: s.principals.join(',') };
    if (why !== 'another key') reasons.push(why);
  }
  return {
    status: 'untrusted',
    record,
    reason:
      reasons.length > 0
        ? `key ${record.keyFingerprint} is an allowed signer, but at ${new Date(time * 1000).toISOString()} it is ${reasons.join('; ')}`
        : `key ${record.keyFingerprint} is not an allowed signer`,
  };
}

function sshKeyOf(text: string): Uint8Array {
  return parseSshSignature(text).publicKey;
}

/** `ssh ed25519 SHA256:…` / `openpgp <fingerprint>`: how a report names the key. */
export function describeKey(r: SignatureRecord): string {
  if (r.format === 'ssh') {
    const t = (r.keyType ?? '').replace(/^ssh-/, '').replace(/^ecdsa-sha2-/, 'ecdsa ');
    return `ssh ${t} ${r.keyFingerprint ?? ''}`.trim();
  }
  if (r.format === 'openpgp') return `openpgp ${r.keyFingerprint ?? ''}`.trim();
  return r.format;
}
