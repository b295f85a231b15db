/**
 * The inputs of verify mode's signed verdict (./vsa.ts): `emit-vsa`, and its key, `vsa-key` (PEM
 * text, e.g. from a secret) or `vsa-kms-key` (a KMS key ARN).
 */
import type { VsaKey } from '../kms/node.js';
import { kmsKeyRegion } from '../kms/node.js';
import { ActionError } from './errors.js';

/** Reads one input by name, `''` when not given. */
type InputGetter = (name: string) => string;

/** Longest PEM accepted in `vsa-key`. */
const MAX_VSA_KEY_CHARS = 16 * 1024;

function bad(name: string, message: string): ActionError {
  return new ActionError('INPUT_INVALID', `input "${name}": ${message}`, { path: name });
}

/**
 * The VSA inputs of verify mode: null unless `emit-vsa` is true, which then needs exactly one of
 * `vsa-key` and `vsa-kms-key`. Throws `INPUT_INVALID` naming the input.
 */
export function vsaInputs(get: InputGetter, emit: boolean): VsaKey | null {
  const pem = get('vsa-key');
  const arn = get('vsa-kms-key');
  if (!emit) {
    if (pem !== '' || arn !== '')
      throw bad('emit-vsa', 'a VSA key is given but emit-vsa is not true');
    return null;
  }
  if ((pem === '') === (arn === ''))
    throw bad('emit-vsa', 'needs exactly one of vsa-key (a PEM private key) and vsa-kms-key');
  if (pem !== '') {
    if (pem.length > MAX_VSA_KEY_CHARS || !pem.includes('-----BEGIN PRIVATE KEY-----'))
      throw bad('vsa-key', 'expected a PKCS #8 EC P-256 private key, PEM (BEGIN PRIVATE KEY)');
    return { keyPem: pem };
  }
  if (kmsKeyRegion(arn) === null)
    throw bad('vsa-kms-key', `expected a KMS key ARN, got ${JSON.stringify(arn.slice(0, 200))}`);
  return { kmsKeyArn: arn };
}
