import { describe, expect, it } from '@jest/globals';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PositionalReader } from '../../src/util/node.js';
import { readAtMost, readBoundedFile } from '../../src/util/node.js';
import { tempDirSync } from '../support/temp.js';

describe('reading a small file the user names', () => {
  const dir = tempDirSync('util-node-');
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

  // /proc/self/status is a regular file whose stat size is 0 and whose content is not: what stat
  // says does not bound what is read.
  const proc = '/proc/self/status';
  const procIt = existsSync(proc) && statSync(proc).size === 0 ? it : it.skip;

  procIt('when a regular file states a size of 0 but holds more, it reads it whole', async () => {
    expect((await readBoundedFile(proc, 1024 * 1024)).toString('utf8')).toMatch(/^Name:/);
  });

  procIt(
    'when a regular file states a size of 0 but holds more than the bound, it refuses',
    async () => {
      await expect(readBoundedFile(proc, 16)).rejects.toThrow('larger than 16 bytes');
    },
  );
});

describe('reading a handle up to a bound', () => {
  /** A handle whose content never ends (a file that keeps growing); counts the bytes handed out. */
  function endless(): PositionalReader & { given: () => number } {
    let given = 0;
    return {
      read: async (buffer: Buffer, offset: number, length: number) => {
        buffer.fill(0x61, offset, offset + length);
        given += length;
        return { bytesRead: length };
      },
      given: () => given,
    };
  }

  it('when the content does not end, it refuses after reading one byte past the bound', async () => {
    const h = endless();
    await expect(readAtMost(h, 200_000, 10)).rejects.toThrow('larger than 200000 bytes');
    expect(h.given()).toBe(200_001);
  });

  it('when the content is exactly the bound, it returns it, and refuses a bound one byte smaller', async () => {
    const content = Buffer.alloc(100_000, 0x62);
    const h: PositionalReader = {
      read: async (buffer: Buffer, offset: number, length: number, position: number) => {
        const n = content.copy(buffer, offset, position, position + length);
        return { bytesRead: n };
      },
    };
    expect((await readAtMost(h, 100_000)).equals(content)).toBe(true);
    await expect(readAtMost(h, 99_999)).rejects.toThrow('larger than 99999 bytes');
  });
});
