/**
 * The builder signature step of bundle verification: provenance.dsse.json, when present, must be
 * a DSSE envelope of an in-toto statement whose payload is byte for byte provenance.json, signed
 * over the PAE by the key the attestation document carries in `public_key` (so the hardware
 * vouches for the key), and that key must be the one the policy names for the builder or
 * `--builder-key`. Pure (Web Crypto).
 */
import type { AttestationDocument } from '../attestation/index.js';
import type { BundleContents } from '../bundle/index.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  isDsseError,
  keyFingerprint,
  keyId,
  parseEnvelope,
  verifyEnvelope,
} from '../dsse/index.js';
import type { DsseEnvelope } from '../dsse/index.js';
import { bytesEqual } from '../util/hex.js';
import { VerifyError } from './errors.js';
import type { TrustPolicy, TrustedBuilder } from './types.js';

const PATH = 'provenance.dsse.json';

/** Checks the envelope (see the module comment); returns the signing key's fingerprint or null. */
export async function checkEnvelope(
  contents: Pick<BundleContents, 'provenance' | 'envelope'>,
  document: AttestationDocument,
  policy: TrustPolicy,
  builder: TrustedBuilder | undefined,
): Promise<{ keyFingerprint: string } | null> {
  const wanted = [
    ...(builder?.publicKey !== undefined
      ? [{ key: builder.publicKey, by: `the policy's key of builder ${builder.name}` }]
      : []),
    ...(policy.builderKey !== undefined ? [{ key: policy.builderKey, by: '--builder-key' }] : []),
  ];
  if (contents.envelope === undefined) {
    if (wanted.length > 0)
      throw new VerifyError(
        'BUILDER_SIGNATURE_MISSING',
        `the bundle has no builder signature (${PATH}), but ${wanted[0]!.by} is required`,
        { path: PATH },
      );
    return null;
  }
  let env: DsseEnvelope;
  try {
    env = parseEnvelope(contents.envelope);
  } catch (e) {
    if (!isDsseError(e)) throw e;
    throw new VerifyError('ENVELOPE_MALFORMED', `${PATH}: ${e.message}`, {
      path: e.path === undefined ? PATH : `${PATH}.${e.path}`,
      cause: e,
    });
  }
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw new VerifyError(
      'ENVELOPE_MALFORMED',
      `${PATH}: payloadType is ${JSON.stringify(env.payloadType.slice(0, 100))}, not ${IN_TOTO_PAYLOAD_TYPE}`,
      { path: `${PATH}.payloadType` },
    );
  if (!bytesEqual(env.payload, contents.provenance))
    throw new VerifyError(
      'ENVELOPE_PAYLOAD_MISMATCH',
      `${PATH}: the signed payload is not byte for byte provenance.json`,
      { path: `${PATH}.payload` },
    );
  const attested = document.publicKey;
  if (attested === null)
    throw new VerifyError(
      'ENVELOPE_KEY_NOT_ATTESTED',
      `${PATH}: the attestation document carries no public_key, so nothing vouches for the signing key`,
      { path: 'attestation.public_key' },
    );
  const fingerprint = await keyFingerprint(attested);
  const id = await keyId(attested);
  const other = env.signatures.find((s) => s.keyid !== id);
  if (other !== undefined)
    throw new VerifyError(
      'ENVELOPE_KEY_NOT_ATTESTED',
      `${PATH}: signed by key ${other.keyid.slice(0, 100)}, but the attestation vouches for ${id}`,
      { path: `${PATH}.signatures` },
    );
  try {
    await verifyEnvelope(env, attested);
  } catch (e) {
    if (!isDsseError(e)) throw e;
    throw new VerifyError(
      e.code === 'DSSE_KEY_INVALID' ? 'ENVELOPE_KEY_NOT_ATTESTED' : 'ENVELOPE_SIGNATURE_INVALID',
      `${PATH}: ${e.message}`,
      { path: `${PATH}.signatures`, cause: e },
    );
  }
  for (const w of wanted) {
    if (!bytesEqual(w.key, attested))
      throw new VerifyError(
        'BUILDER_KEY_MISMATCH',
        `signed by ${fingerprint}, which is not ${w.by} (${await keyFingerprint(w.key)})`,
        { path: 'attestation.public_key' },
      );
  }
  return { keyFingerprint: fingerprint };
}
