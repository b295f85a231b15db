import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeTar } from '../../src/archive/index.js';
import { chunksOf, collect } from '../../src/util/bytes.js';
import { extractTar, extractZip, packDirectory, writeTarFile } from '../../src/archive/node.js';
import { BLOCK, encodeHeader } from '../../src/archive/tar-header.js';
import { tempDirSync } from '../support/temp.js';

const te = new TextEncoder();

function tmp(): string {
  return tempDirSync('extract-test-');
}

function python(script: string, ...args: string[]): void {
  execFileSync('python3', ['-c', script, ...args]);
}

describe('extractTar', () => {
  it('when extracting a packed directory, it restores files, executable bits and inner symlinks with the given mtime', async () => {
    const src = join(tmp(), 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'a.txt'), 'alpha');
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(src, 'run.sh'), 0o755);
    writeFileSync(join(src, 'empty'), '');
    // Larger than what is written in one piece (src/archive/extract.ts), and executable.
    const big = Buffer.alloc(300 * 1024 + 5, 0x5a);
    writeFileSync(join(src, 'sub', 'big.bin'), big);
    chmodSync(join(src, 'sub', 'big.bin'), 0o755);
    symlinkSync('sub/a.txt', join(src, 'link'));
    const tar = await collect(writeTar(packDirectory(src)));
    const dest = join(tmp(), 'out');
    const r = await extractTar(chunksOf(tar), dest, { symlinks: 'inside', mtime: 315532800 });
    expect(r).toEqual({ files: 4, directories: 0, symlinks: 1, bytes: 15 + big.length });
    expect(readFileSync(join(dest, 'sub', 'big.bin')).equals(big)).toBe(true);
    expect(statSync(join(dest, 'sub', 'big.bin')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dest, 'sub', 'big.bin')).mtimeMs).toBe(315532800_000);
    expect(statSync(join(dest, 'run.sh')).mtimeMs).toBe(315532800_000);
    expect(readFileSync(join(dest, 'sub', 'a.txt'), 'utf8')).toBe('alpha');
    expect(statSync(join(dest, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dest, 'sub', 'a.txt')).mode & 0o777).toBe(0o644);
    expect(readlinkSync(join(dest, 'link'))).toBe('sub/a.txt');
    expect(statSync(join(dest, 'sub', 'a.txt')).mtimeMs).toBe(315532800_000);
    expect(lstatSync(join(dest, 'sub')).mtimeMs).toBe(315532800_000);
  });

  it('when packing a directory twice, it gives the same bytes (deterministic order and metadata)', async () => {
    const src = join(tmp(), 'src');
    mkdirSync(join(src, 'b'), { recursive: true });
    writeFileSync(join(src, 'b', 'x'), '1');
    writeFileSync(join(src, 'a'), '2');
    writeFileSync(join(src, 'b.txt'), '3');
    const one = await collect(writeTar(packDirectory(src)));
    writeFileSync(join(src, 'a'), '2'); // touch: new mtime, same content
    const two = await collect(writeTar(packDirectory(src)));
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
  });

  it('when the archive is hostile, it refuses and leaves nothing behind', async () => {
    const parts = [
      encodeHeader({ name: 'ok', mode: 0o644, size: 0, mtime: 0, typeflag: '0' }),
      encodeHeader({ name: '../../evil', mode: 0o644, size: 0, mtime: 0, typeflag: '0' }),
      new Uint8Array(BLOCK * 2),
    ];
    const dest = join(tmp(), 'out');
    await expect(extractTar(chunksOf(Buffer.concat(parts)), dest)).rejects.toHaveCode(
      'ARCHIVE_UNSAFE_PATH',
    );
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(join(dest, '..', '..', 'evil'))).toBe(false);
  });

  it('when the target directory is not empty, it refuses to extract into it', async () => {
    const dest = tmp();
    writeFileSync(join(dest, 'x'), 'x');
    await expect(extractTar(chunksOf(await collect(writeTar([]))), dest)).rejects.toThrow(
      /not empty/,
    );
  });

  it('when writing a tar.gz file, it reports its size and SHA-256 and GNU tar can read it', async () => {
    const dir = tmp();
    const file = join(dir, 'b.tar.gz');
    const r = await writeTarFile(
      [{ path: 'f.txt', type: 'file', content: te.encode('data') }],
      file,
      { gzip: true },
    );
    expect(r.bytes).toBe(readFileSync(file).length);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(execFileSync('tar', ['-xzOf', file, 'f.txt'], { encoding: 'utf8' })).toBe('data');
  });
});

/** Offset of the first central directory header. */
function centralHeader(b: Buffer): number {
  return b.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
}

/** Patches the first central directory entry's uncompressed size (offset 24 in the entry). */
function patchCentralSize(file: string, size: number): void {
  const b = readFileSync(file);
  b.writeUInt32LE(size, centralHeader(b) + 24);
  writeFileSync(file, b);
}

/** Lets streams left behind finish and report: an unhandled error then fails the test. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
}

describe('extractZip', () => {
  it('when extracting a zip made by Info-ZIP with a symlink and an executable, it restores them', async () => {
    const dir = tmp();
    const src = join(dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'd', 'f.txt'), 'zipped');
    writeFileSync(join(src, 'x.sh'), 'echo');
    chmodSync(join(src, 'x.sh'), 0o755);
    symlinkSync('d/f.txt', join(src, 'l'));
    execFileSync('zip', ['-q', '-r', '-y', join(dir, 's.zip'), '.'], { cwd: src });
    const dest = join(dir, 'out');
    const r = await extractZip(join(dir, 's.zip'), dest, { symlinks: 'inside' });
    expect(r.files).toBe(2);
    expect(r.symlinks).toBe(1);
    expect(readFileSync(join(dest, 'd', 'f.txt'), 'utf8')).toBe('zipped');
    expect(statSync(join(dest, 'x.sh')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(dest, 'l'))).toBe('d/f.txt');
  });

  it('when a zip member escapes with `..`, it refuses and leaves nothing behind', async () => {
    const dir = tmp();
    python(
      'import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],"w") as z: z.writestr("ok.txt","a"); z.writestr("../../evil.txt","b")',
      join(dir, 'e.zip'),
    );
    const dest = join(dir, 'out');
    await expect(extractZip(join(dir, 'e.zip'), dest)).rejects.toHaveCode('ARCHIVE_UNSAFE_PATH');
    expect(existsSync(dest)).toBe(false);
  });

  it('when a zip symlink points outside, it refuses', async () => {
    const dir = tmp();
    python(
      'import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],"w")\ni=zipfile.ZipInfo("l")\ni.external_attr=(0o120777<<16)\nz.writestr(i,"/etc/passwd")\nz.close()',
      join(dir, 'l.zip'),
    );
    await expect(
      extractZip(join(dir, 'l.zip'), join(dir, 'out'), { symlinks: 'inside' }),
    ).rejects.toHaveCode('ARCHIVE_LINK');
  });

  it('when a zip declares more than the limit, it refuses before inflating', async () => {
    const dir = tmp();
    python(
      'import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED) as z: z.writestr("zeros", b"\\0"*(20*1024*1024))',
      join(dir, 'bomb.zip'),
    );
    await expect(
      extractZip(join(dir, 'bomb.zip'), join(dir, 'out'), {
        limits: { maxEntryBytes: 1024 * 1024 },
      }),
    ).rejects.toHaveCode('ARCHIVE_TOO_LARGE');
  });

  it('when a zip lies about an entry size, it refuses with a typed error', async () => {
    const dir = tmp();
    const file = join(dir, 'lie.zip');
    python(
      'import zipfile,sys\nwith zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED) as z: z.writestr("zeros", b"\\0"*(1024*1024))',
      file,
    );
    patchCentralSize(file, 10);
    await expect(extractZip(file, join(dir, 'out'))).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });

  it('when a symlink entry lies about its size, it refuses with a typed error whether links are allowed or not', async () => {
    const dir = tmp();
    const file = join(dir, 'link-lie.zip');
    python(
      'import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\ni=zipfile.ZipInfo("l")\ni.external_attr=(0o120777<<16)\ni.compress_type=zipfile.ZIP_DEFLATED\nz.writestr(i,"a"*(1024*1024))\nz.close()',
      file,
    );
    patchCentralSize(file, 5);
    await expect(extractZip(file, join(dir, 'refuse'))).rejects.toHaveCode('ARCHIVE_LINK');
    await expect(extractZip(file, join(dir, 'inside'), { symlinks: 'inside' })).rejects.toHaveCode(
      'ARCHIVE_MALFORMED',
    );
    await settle();
  });

  it('when the file is not a zip, it refuses with a typed error', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'no.zip'), 'not a zip at all');
    await expect(extractZip(join(dir, 'no.zip'), join(dir, 'out'))).rejects.toHaveCode(
      'ARCHIVE_MALFORMED',
    );
  });
});
