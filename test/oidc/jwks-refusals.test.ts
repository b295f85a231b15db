/** A JWKS given as trust that is not a JSON Web Key Set of RSA keys is refused, naming the file. */
import { describe, expect, it } from '@jest/globals';
import { parseJwks } from '../../src/oidc/index.js';

describe('parseJwks refusals', () => {
  it.each([
    ['not JSON', '{"keys": ['],
    ['not a key set', '{"kid": "x"}'],
    ['keys that are not a list', '{"keys": {}}'],
  ])('when the document is %s, it refuses with OIDC_JWKS_INVALID naming it', (_what, text) => {
    expect(() => parseJwks(text, 'github-jwks.json')).toThrowWithCode(
      'OIDC_JWKS_INVALID',
      'github-jwks.json',
    );
  });
});
