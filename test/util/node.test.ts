import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBoundedFile } from '../../src/util/node.js';

describe('reading a small file the user names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'util-node-'));
  const file = join(dir, 'a.json');
  writeFileSync(file, '{"a":1}');

  it('when the file is a regular file within the bound, it returns its bytes', async () => {
    expect((await readBoundedFile(file, 7)).toString('utf8')).toBe('{"a":1}');
  });

  it('when the file is larger than the bound, it refuses naming the bound', async () => {
    await expect(readBoundedFile(file, 6)).rejects.toThrow('larger than 6 bytes');
  });

  it('when the path is a directory, it refuses as not a regular file', async () => {
    await expect(readBoundedFile(dir, 1024)).rejects.toThrow('not a regular file');
  });

  it('when the file is missing, the file system error (ENOENT) comes through', async () => {
    await expect(readBoundedFile(join(dir, 'none'), 1024)).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});
