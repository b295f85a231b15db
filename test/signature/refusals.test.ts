/**
 * Signatures and trust material that cannot be read are refused with their own codes, naming what
 * to fix: an armored signature that is not one (SIGNATURE_MALFORMED), a line of an allowed signers
 * file that is not in git's format (ALLOWED_SIGNERS_INVALID, with the file and line as its path),
 * an OpenPGP key that is not an armored public key (PGP_KEY_INVALID, with the key's name).
 */
import { describe, expect, it } from '@jest/globals';
import {
  parseAllowedSigners,
  parseSshSignature,
  readPgpKey,
  verifyPgpSignature,
} from '../../src/signature/index.js';

const SSH_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const SSH_END = '-----END SSH SIGNATURE-----';

describe('signature refusals', () => {
  it.each([
    ['no armor lines', 'not a signature'],
    ['a body that is not base64', `${SSH_BEGIN}\n@@@@\n${SSH_END}`],
    ['no SSHSIG preamble', `${SSH_BEGIN}\nAAAAAAAAAAAA\n${SSH_END}`],
  ])('when an SSH signature has %s, it refuses with SIGNATURE_MALFORMED', (_what, armored) => {
    expect(() => parseSshSignature(armored)).toThrowWithCode('SIGNATURE_MALFORMED');
  });

  it('when an OpenPGP signature is not armored, it refuses with SIGNATURE_MALFORMED', async () => {
    await expect(
      verifyPgpSignature('not a signature', new TextEncoder().encode('payload'), []),
    ).rejects.toHaveCode('SIGNATURE_MALFORMED');
  });

  it('when a line of an allowed signers file has no key, it refuses with ALLOWED_SIGNERS_INVALID', () => {
    expect(() => parseAllowedSigners('alice@example.com\n', 'signers')).toThrowWithCode(
      'ALLOWED_SIGNERS_INVALID',
    );
  });

  it.each([
    ['not armored', 'hello'],
    [
      'armored, but not a key',
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n',
    ],
  ])('when an OpenPGP key is %s, it refuses with PGP_KEY_INVALID naming it', async (_w, text) => {
    await expect(readPgpKey(text, 'alice.asc')).rejects.toHaveCode('PGP_KEY_INVALID', 'alice.asc');
  });
});
