/**
 * Node face of the origin trust: allowed signers, OpenPGP keys and JWKS read from files, each
 * bounded and refused as POLICY_INVALID naming the file.
 */
import { resolve } from 'node:path';
import type { RsaJwk } from '../oidc/index.js';
import { MAX_JWKS_BYTES, isOidcError, parseJwks } from '../oidc/index.js';
import { MAX_ALLOWED_SIGNERS_BYTES, MAX_PGP_KEY_CHARS } from '../signature/index.js';
import { readBoundedFile } from '../util/node.js';
import { VerifyError } from './errors.js';
import type { OriginFlags } from './origin-policy.js';

async function readText(file: string, max: number, flag: string): Promise<string> {
  try {
    return (await readBoundedFile(file, max)).toString('utf8');
  } catch (e) {
    throw new VerifyError(
      'POLICY_INVALID',
      `${flag} ${file}: cannot read: ${(e as Error).message}`,
      {
        path: flag,
        cause: e,
      },
    );
  }
}

/** `--tag`, `--allowed-signers <file>` and `--pgp-key <file>…` as origin flags. */
export async function readOriginFlags(
  values: {
    tag?: string | undefined;
    'allowed-signers'?: string | undefined;
    'pgp-key'?: string[] | undefined;
  },
  cwd: string,
): Promise<OriginFlags> {
  const out: OriginFlags = {};
  if (values.tag !== undefined) out.tag = values.tag;
  const signers = values['allowed-signers'];
  if (signers !== undefined) {
    const file = resolve(cwd, signers);
    out.allowedSigners = {
      text: await readText(file, MAX_ALLOWED_SIGNERS_BYTES, '--allowed-signers'),
      name: signers,
    };
  }
  if (values['pgp-key'] !== undefined)
    out.pgpKeys = await Promise.all(
      values['pgp-key'].map((f) => readText(resolve(cwd, f), MAX_PGP_KEY_CHARS, '--pgp-key')),
    );
  return out;
}

/** JWKS files (`--oidc-jwks`), their RSA keys together. */
export async function readJwksFiles(files: readonly string[]): Promise<RsaJwk[]> {
  const out: RsaJwk[] = [];
  for (const f of files) {
    try {
      out.push(...parseJwks(await readText(f, MAX_JWKS_BYTES, '--oidc-jwks'), f));
    } catch (e) {
      if (!isOidcError(e)) throw e;
      throw new VerifyError('POLICY_INVALID', `--oidc-jwks ${e.message}`, {
        path: '--oidc-jwks',
        cause: e,
      });
    }
  }
  return out;
}
