import { describe, expect, it, jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirSync } from '../support/temp.js';

// A slow consumer: every file the extraction creates is opened 30 ms late, so that yauzl has
// inflated, checked and failed the entry before anything reads it. An error with no listener at
// that point would be an uncaught exception (the agent's process gone), here a failed test.
const fsp = await import('node:fs/promises');
jest.unstable_mockModule('node:fs/promises', () => ({
  ...fsp,
  open: async (...args: Parameters<typeof fsp.open>) => {
    await new Promise((r) => setTimeout(r, 30));
    return fsp.open(...args);
  },
}));
const { extractZip } = await import('../../src/archive/node.js');

const dir = tempDirSync('zip-errors-');

/** Offset of the first central directory header. */
function centralHeader(b: Buffer): number {
  return b.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
}

/** A deflated 1 MiB entry then a small one, with the first entry patched by `patch`. */
function hostileZip(name: string, patch: (b: Buffer) => void): string {
  const file = join(dir, `${name}.zip`);
  execFileSync('python3', [
    '-c',
    'import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED) as z: z.writestr("zeros", b"\\0"*(1024*1024)); z.writestr("after", b"x")',
    file,
  ]);
  const b = readFileSync(file);
  patch(b);
  writeFileSync(file, b);
  return file;
}

const hostile = {
  // the central directory says 10 bytes: yauzl's "too many bytes in the stream"
  'more bytes than declared': hostileZip('too-many', (b) =>
    b.writeUInt32LE(10, centralHeader(b) + 24),
  ),
  // the central directory says 2 MiB: "not enough bytes in the stream", at the end
  'fewer bytes than declared': hostileZip('too-few', (b) =>
    b.writeUInt32LE(2 * 1024 * 1024, centralHeader(b) + 24),
  ),
  // the first deflate block has the reserved type: zlib's Z_DATA_ERROR, forwarded by yauzl
  'data that does not inflate': hostileZip('bad-deflate', (b) => {
    b[30 + b.readUInt16LE(26) + b.readUInt16LE(28)] = 0xff;
  }),
};

/** Lets streams left behind finish and report: an unhandled error then fails the test. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
}

describe('extracting a hostile zip with a slow consumer', () => {
  for (const [what, file] of Object.entries(hostile)) {
    it(`when an entry has ${what}, every run refuses with ARCHIVE_MALFORMED and nothing is left or thrown later`, async () => {
      for (let i = 0; i < 10; i++) {
        const dest = join(dir, `out-${what.replace(/ /g, '-')}-${i}`);
        await expect(extractZip(file, dest)).rejects.toHaveCode('ARCHIVE_MALFORMED');
        expect(existsSync(dest)).toBe(false);
      }
      await settle();
    });
  }

  it('when hostile zips are extracted many at a time, each is refused with a typed error', async () => {
    const files = Object.values(hostile);
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const dest = join(dir, `out-many-${i}`);
      runs.push(
        expect(extractZip(files[i % files.length]!, dest))
          .rejects.toHaveCode('ARCHIVE_MALFORMED')
          .then(() => expect(existsSync(dest)).toBe(false)),
      );
    }
    await Promise.all(runs);
    await settle();
  });
});
