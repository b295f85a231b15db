/**
 * The committed JSON Schemas, byte for byte, as scripts/schemas.mjs writes them from the zod
 * schemas (the module tests compare their content; this also covers the script and the format).
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));

describe('scripts/schemas.mjs', () => {
  it('when run with --check, it finds every committed schema current', () => {
    const r = spawnSync(process.execPath, ['scripts/schemas.mjs', '--check'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
