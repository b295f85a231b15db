import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { constants as zlibConstants, deflateRawSync, gzipSync } from 'node:zlib';
import { readTar, readTarToMemory, tarSize, writeTar } from '../../src/archive/index.js';
import { MAX_TRAILING_ZERO_BYTES } from '../../src/archive/tar-parse.js';
import { chunksOf, collect } from '../../src/util/bytes.js';
import type { TarInputEntry } from '../../src/archive/index.js';
import { BLOCK, encodePax, isAllZero } from '../../src/archive/tar-header.js';
import { rawTar } from '../support/bundles/bundle-raw.js';
import { tempDirSync } from '../support/temp.js';

const te = new TextEncoder();

async function tarOf(entries: TarInputEntry[], mtime = 0): Promise<Uint8Array> {
  return collect(writeTar(entries, { mtime }));
}

async function read(bytes: Uint8Array, opts: Parameters<typeof readTarToMemory>[1] = {}) {
  return readTarToMemory(chunksOf(bytes, 700), opts);
}

const MiB = 1024 * 1024;

/** CRC-32 (RFC 1952 §8) of `n` zero bytes continuing from `crc`, for the gzip trailer. */
const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32Zeros(crc: number, n: number): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < n; i++) c = CRC_TABLE[c & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * A gzip stream of `mib` MiB of zeros, generated as it is read: one deflate unit (1 MiB of zeros,
 * about 1 KiB compressed, ending in a full flush so that units can follow each other) per chunk.
 * `pulled.units` counts the units the reader asked for; `pulled.closed` tells that it stopped reading.
 */
function zeroGzipBomb(
  mib: number,
  pulled: { units: number; closed: boolean },
): AsyncIterable<Uint8Array> {
  const unit = deflateRawSync(new Uint8Array(MiB), { finishFlush: zlibConstants.Z_FULL_FLUSH });
  return (async function* () {
    yield Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff);
    let crc = 0;
    try {
      for (let i = 0; i < mib; i++) {
        pulled.units++;
        crc = crc32Zeros(crc, MiB);
        yield unit;
      }
    } finally {
      pulled.closed = true;
    }
    const trailer = new DataView(new ArrayBuffer(10));
    trailer.setUint8(0, 0x03); // an empty final block (fixed Huffman), then CRC-32 and ISIZE
    trailer.setUint32(2, crc, true);
    trailer.setUint32(6, (mib * MiB) % 2 ** 32, true);
    yield new Uint8Array(trailer.buffer);
  })();
}

function tmp(): string {
  return tempDirSync('tar-test-');
}

describe('writeTar', () => {
  it('when given the same entries twice, it writes the same bytes', async () => {
    const entries = (): TarInputEntry[] => [
      { path: 'a.txt', type: 'file', content: te.encode('hello') },
      { path: 'bin/run', type: 'file', executable: true, content: te.encode('#!/bin/sh\n') },
      { path: 'link', type: 'symlink', linkTarget: 'a.txt' },
    ];
    expect(Buffer.from(await tarOf(entries()))).toEqual(Buffer.from(await tarOf(entries())));
  });

  it('when names are long or non-ASCII, it round-trips them through pax records', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
    const bytes = await tarOf([
      { path: long, type: 'file', content: te.encode('x') },
      { path: 'ünïcödé/日本.txt', type: 'file', content: te.encode('y') },
      { path: 'l', type: 'symlink', linkTarget: `${'d'.repeat(120)}/../ünïcödé/日本.txt` },
    ]);
    const files = await read(bytes, { symlinks: 'inside' });
    expect(files.map((f) => f.path)).toEqual([long, 'ünïcödé/日本.txt', 'l']);
    expect(files[2]!.linkTarget).toBe(`${'d'.repeat(120)}/../ünïcödé/日本.txt`);
  });

  it('when the output is given to GNU tar, it lists the same members with their modes', async () => {
    const dir = tmp();
    const file = join(dir, 'x.tar');
    writeFileSync(
      file,
      await tarOf([
        { path: 'src/main.rs', type: 'file', content: te.encode('fn main() {}\n') },
        { path: 'run.sh', type: 'file', executable: true, content: te.encode('echo hi\n') },
      ]),
    );
    const out = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(out).toMatch(/-rw-r--r-- .* src\/main\.rs/);
    expect(out).toMatch(/-rwxr-xr-x .* run\.sh/);
  });

  it('when names are long or non-ASCII and links long, GNU tar unpacks what our reader reads', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
    const entries: TarInputEntry[] = [
      { path: long, type: 'file', content: te.encode('long') },
      { path: 'ünïcödé/日本.txt', type: 'file', executable: true, content: te.encode('non-ASCII') },
      { path: 'l', type: 'symlink', linkTarget: long },
    ];
    const bytes = await tarOf(entries);
    const dir = tmp();
    const file = join(dir, 'x.tar');
    writeFileSync(file, bytes);
    const out = join(dir, 'out');
    mkdirSync(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    const ours = await read(bytes, { symlinks: 'inside' });
    expect(ours.map((f) => f.path)).toEqual([long, 'ünïcödé/日本.txt', 'l']);
    expect(readFileSync(join(out, long), 'utf8')).toBe('long');
    expect(readFileSync(join(out, 'ünïcödé/日本.txt'), 'utf8')).toBe('non-ASCII');
    expect(lstatSync(join(out, 'ünïcödé/日本.txt')).mode & 0o111).not.toBe(0);
    expect(readlinkSync(join(out, 'l'))).toBe(long);
    expect(ours[2]!.linkTarget).toBe(long);
  });

  it('when streamed content does not match the declared size, it throws', async () => {
    async function* body() {
      yield te.encode('abc');
    }
    await expect(tarOf([{ path: 'f', type: 'file', size: 5, content: body() }])).rejects.toThrow(
      /declared 5/,
    );
  });
});

describe('tarSize', () => {
  it('when given the entries without their content, it is the length writeTar yields', async () => {
    const long = 'd/'.repeat(60) + 'f.txt';
    const entries: TarInputEntry[] = [
      { path: 'a', type: 'file', content: te.encode('') },
      { path: 'b.txt', type: 'file', executable: true, content: te.encode('x'.repeat(511)) },
      { path: 'c.bin', type: 'file', content: new Uint8Array(512) },
      { path: 'e.bin', type: 'file', content: new Uint8Array(1025) },
      { path: long, type: 'file', content: te.encode('long name') },
      { path: 'ü/日本.txt', type: 'file', content: te.encode('non-ASCII name') },
      { path: 'dir', type: 'directory' },
      { path: 'l1', type: 'symlink', linkTarget: 'a' },
      { path: 'l2', type: 'symlink', linkTarget: long },
      { path: 'l3', type: 'symlink', linkTarget: 'ü' },
    ];
    const sized = entries.map((e) => ({
      ...e,
      ...(e.content instanceof Uint8Array ? { size: e.content.length } : {}),
    }));
    expect(tarSize(sized)).toBe((await tarOf(entries)).length);
    expect(tarSize([])).toBe((await tarOf([])).length);
    // Sizes past the ustar field's 8 GiB go into a pax record, counted too.
    const huge = 9 * 1024 ** 3;
    expect(tarSize([{ path: 'h', type: 'file', size: huge }])).toBe(3 * BLOCK + huge + 2 * BLOCK);
    expect(() => tarSize([{ path: 'x', type: 'file' }])).toThrow(TypeError);
  });
});

describe('readTar', () => {
  it('when reading archives made by GNU tar (long names, executables, symlinks), it returns every member', async () => {
    const dir = tmp();
    const src = join(dir, 'src');
    const deep = join(src, 'x'.repeat(60), 'y'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'z'.repeat(40)), 'deep');
    writeFileSync(join(src, 'exe'), 'run');
    chmodSync(join(src, 'exe'), 0o755);
    symlinkSync('exe', join(src, 'alias'));
    for (const format of ['gnu', 'posix', 'ustar']) {
      const file = join(dir, `${format}.tar.gz`);
      execFileSync('tar', ['--format', format, '-czf', file, '-C', src, '.']);
      const files = await read(readFileSync(file), { symlinks: 'inside' });
      const byPath = new Map(files.map((f) => [f.path, f]));
      if (format !== 'ustar') {
        expect(
          new TextDecoder().decode(
            byPath.get(`${'x'.repeat(60)}/${'y'.repeat(60)}/${'z'.repeat(40)}`)!.bytes,
          ),
        ).toBe('deep');
      }
      expect(byPath.get('exe')!.executable).toBe(true);
      expect(byPath.get('alias')!.linkTarget).toBe('exe');
    }
  });

  it('when reading `git archive` output, it ignores the global pax header that carries the commit id', async () => {
    const dir = tmp();
    execFileSync('git', ['init', '-q', dir]);
    writeFileSync(join(dir, 'README'), 'hi\n');
    execFileSync('git', ['-C', dir, 'add', '.']);
    execFileSync('git', [
      '-C',
      dir,
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@e',
      'commit',
      '-qm',
      'c',
    ]);
    const tar = execFileSync('git', ['-C', dir, 'archive', '--format=tar', 'HEAD']);
    const files = await read(tar);
    expect(files.map((f) => f.path)).toEqual(['README']);
  });

  it.each([
    ['../escape', 'ARCHIVE_UNSAFE_PATH'],
    ['a/../../escape', 'ARCHIVE_UNSAFE_PATH'],
    ['/etc/passwd', 'ARCHIVE_UNSAFE_PATH'],
  ])('when a member is named %s, it refuses with %s', async (name, code) => {
    await expect(read(rawTar([{ name, data: te.encode('x') }]))).rejects.toHaveCode(code);
  });

  it('when a symlink points outside the archive, it refuses it even where symlinks are allowed', async () => {
    await expect(
      read(rawTar([{ name: 'l', typeflag: '2', linkname: '../../etc/passwd' }]), {
        symlinks: 'inside',
      }),
    ).rejects.toHaveCode('ARCHIVE_LINK');
    await expect(
      read(rawTar([{ name: 'l', typeflag: '2', linkname: '/etc' }]), { symlinks: 'inside' }),
    ).rejects.toHaveCode('ARCHIVE_LINK');
  });

  it('when symlinks are refused, any symlink is refused', async () => {
    await expect(read(rawTar([{ name: 'l', typeflag: '2', linkname: 'a' }]))).rejects.toHaveCode(
      'ARCHIVE_LINK',
    );
  });

  it('when a file would be written through an earlier symlink, it refuses', async () => {
    const t = rawTar([
      { name: 'dir', typeflag: '2', linkname: 'real' },
      { name: 'dir/evil', data: te.encode('x') },
    ]);
    await expect(read(t, { symlinks: 'inside' })).rejects.toHaveCode('ARCHIVE_UNSAFE_PATH');
  });

  it('when a member is a hard link, it refuses', async () => {
    await expect(
      read(
        rawTar([
          { name: 'a', data: te.encode('x') },
          { name: 'b', typeflag: '1', linkname: 'a' },
        ]),
      ),
    ).rejects.toHaveCode('ARCHIVE_LINK');
  });

  it.each([['3'], ['4'], ['6']])('when a member has device/FIFO type %s, it refuses', async (t) => {
    await expect(read(rawTar([{ name: 'dev', typeflag: t }]))).rejects.toHaveCode(
      'ARCHIVE_SPECIAL_FILE',
    );
  });

  it('when a path appears twice, it refuses (no overwrite tricks)', async () => {
    await expect(
      read(
        rawTar([
          { name: 'a', data: te.encode('1') },
          { name: './a', data: te.encode('2') },
        ]),
      ),
    ).rejects.toHaveCode('ARCHIVE_DUPLICATE_ENTRY');
  });

  it('when an entry is larger than allowed, it refuses before reading it', async () => {
    await expect(
      read(rawTar([{ name: 'big', data: new Uint8Array(5000) }]), {
        limits: { maxEntryBytes: 4096 },
      }),
    ).rejects.toHaveCode('ARCHIVE_TOO_LARGE');
  });

  it('when the total is larger than allowed, it refuses', async () => {
    const t = rawTar([1, 2, 3].map((i) => ({ name: `f${i}`, data: new Uint8Array(3000) })));
    await expect(read(t, { limits: { maxTotalBytes: 8000 } })).rejects.toHaveCode(
      'ARCHIVE_TOO_LARGE',
    );
  });

  it('when there are too many entries, it refuses', async () => {
    const t = rawTar(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}` })));
    await expect(read(t, { limits: { maxEntries: 10 } })).rejects.toHaveCode(
      'ARCHIVE_TOO_MANY_ENTRIES',
    );
  });

  it('when a path is too deep, it refuses', async () => {
    await expect(
      read(rawTar([{ name: 'a/'.repeat(10) + 'f' }]), { limits: { maxDepth: 5 } }),
    ).rejects.toHaveCode('ARCHIVE_PATH_TOO_LONG');
  });

  it('when a gzip stream decompresses beyond the limit (a bomb), it stops and refuses', async () => {
    const bomb = gzipSync(rawTar([{ name: 'zeros', data: new Uint8Array(50 * 1024 * 1024) }]));
    expect(bomb.length).toBeLessThan(200 * 1024);
    await expect(
      read(bomb, { limits: { maxTotalBytes: 1024 * 1024, maxEntries: 10 } }),
    ).rejects.toHaveCode('ARCHIVE_TOO_LARGE');
  });

  it('when the header checksum is wrong, it refuses', async () => {
    const t = rawTar([{ name: 'a', data: te.encode('x') }]);
    t[0] = 'b'.charCodeAt(0);
    await expect(read(t)).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });

  it('when the archive is truncated in a member or lacks the end marker, it refuses', async () => {
    const t = rawTar([{ name: 'a', data: new Uint8Array(2000) }]);
    await expect(read(t.subarray(0, 1000))).rejects.toHaveCode('ARCHIVE_MALFORMED');
    await expect(read(t.subarray(0, t.length - 1024))).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });

  it('when data follows the end-of-archive marker, it refuses', async () => {
    const t = Buffer.concat([rawTar([{ name: 'a' }]), te.encode('smuggled')]);
    await expect(read(t)).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });

  it('when zero padding follows the end-of-archive marker up to the bound (1 MiB), it is accepted', async () => {
    const t = rawTar([{ name: 'a', data: te.encode('x') }]);
    // GNU tar's record of 10240 bytes, then the most padding allowed after the first zero block.
    const record = Buffer.concat([t, new Uint8Array(10240 - (t.length % 10240))]);
    expect((await read(record)).map((f) => f.path)).toEqual(['a']);
    const atBound = Buffer.concat([t, new Uint8Array(MAX_TRAILING_ZERO_BYTES - BLOCK)]);
    expect((await read(atBound)).map((f) => f.path)).toEqual(['a']);
    await expect(read(Buffer.concat([atBound, new Uint8Array(1)]))).rejects.toHaveCode(
      'ARCHIVE_TOO_LARGE',
    );
  });

  it('when one byte of the padding is not zero, at any offset and alignment, it refuses', async () => {
    const buf = new Uint8Array(64);
    for (let start = 0; start < 5; start++)
      for (let end = start; end <= start + 13; end++) {
        const view = buf.subarray(start, end);
        expect(isAllZero(view)).toBe(true);
        for (let i = 0; i < view.length; i++) {
          view[i] = 1;
          expect([start, end, i, isAllZero(view)]).toEqual([start, end, i, false]);
          view[i] = 0;
        }
      }
    const t = Buffer.concat([rawTar([{ name: 'a' }]), new Uint8Array(100_000)]);
    t[t.length - 1] = 1;
    await expect(read(t)).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });

  it('when a small gzip holds gigabytes of zeros after the end-of-archive marker, it refuses after about 1 MiB', async () => {
    const pulled = { units: 0, closed: false };
    // 3000 MiB of zeros, about 3 MB compressed: an empty archive followed by padding.
    const e = await readTarToMemory(zeroGzipBomb(3000, pulled)).catch((x: unknown) => x);
    expect(e).toHaveCode('ARCHIVE_TOO_LARGE');
    expect((e as Error).message).toMatch(/padding after the end-of-archive marker/);
    // Decompression stopped a few MiB past the bound (the decompressor reads a little ahead), far
    // below the 3000 MiB of the bomb and the 8 GiB decompression cap, and the source was closed.
    expect(pulled.units).toBeLessThanOrEqual(32);
    expect(pulled.closed).toBe(true);
  });

  it('when a plain tar stream of zeros goes on after the end-of-archive marker, reading stops at the bound', async () => {
    let yielded = 0;
    const zeros = new Uint8Array(64 * 1024);
    const source = (async function* () {
      for (let i = 0; i < 16 * 1024; i++) {
        yielded += zeros.length;
        yield zeros;
      }
    })();
    const entries = (async () => {
      for await (const _ of readTar(source)) {
        /* none */
      }
    })();
    await expect(entries).rejects.toHaveCode('ARCHIVE_TOO_LARGE');
    expect(yielded).toBeLessThanOrEqual(MAX_TRAILING_ZERO_BYTES + 2 * zeros.length);
  });

  it('when gzip data is corrupt, it refuses with a typed error', async () => {
    const gz = gzipSync(rawTar([{ name: 'a', data: te.encode('hello') }]));
    gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // CRC32 trailer
    await expect(read(gz)).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });

  it('when a pax record is malformed, it refuses', async () => {
    const bad = te.encode('99 path=x\n');
    const t = Buffer.concat([
      rawTar([{ name: 'p', typeflag: 'x', data: bad }]).subarray(0, 1024),
      rawTar([{ name: 'a' }]),
    ]);
    await expect(read(t)).rejects.toHaveCode('ARCHIVE_MALFORMED');
    // and a well-formed one is honoured
    const good = Buffer.concat([
      rawTar([{ name: 'p', typeflag: 'x', data: encodePax([['path', 'renamed']]) }]).subarray(
        0,
        1024,
      ),
      rawTar([{ name: 'a' }]),
    ]);
    expect((await read(good)).map((f) => f.path)).toEqual(['renamed']);
  });

  it('reads the same entries wherever the chunks split its headers and padding', async () => {
    const t = await tarOf([
      { path: 'a/b/c.txt', type: 'file', content: te.encode('x'.repeat(700)) },
      { path: 'a/empty', type: 'file', content: new Uint8Array(0) },
      { path: 'a/d', type: 'file', content: new Uint8Array(1536).fill(7) },
    ]);
    const whole = await readTarToMemory(chunksOf(t, t.length));
    expect(whole.map((e) => e.path)).toEqual(['a/b/c.txt', 'a/empty', 'a/d']);
    for (const size of [1, 7, 511, 512, 513, 1000, 1024, 1537])
      expect(await readTarToMemory(chunksOf(t, size))).toEqual(whole);
  });

  it('when the consumer skips a body, the next entry is still read correctly', async () => {
    const t = await tarOf([
      { path: 'skip', type: 'file', content: new Uint8Array(3000) },
      { path: 'keep', type: 'file', content: te.encode('kept') },
    ]);
    const seen: string[] = [];
    for await (const e of readTar(chunksOf(t, 100))) {
      if (e.path === 'keep') seen.push(new TextDecoder().decode(await collect(e.body)));
    }
    expect(seen).toEqual(['kept']);
  });
});
