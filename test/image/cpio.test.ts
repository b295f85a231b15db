/**
 * The deterministic newc writer and its strict reader, checked against GNU cpio.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCpio, writeCpio } from '../../src/image/index.js';
import type { CpioMember } from '../../src/image/index.js';
import { runTool } from '../../src/image/debian.js';

const enc = new TextEncoder();
const MEMBERS: CpioMember[] = [
  { path: 'b/file', mode: 0o100640, uid: 1, gid: 2, data: enc.encode('hello\n') },
  { path: 'b', mode: 0o040755, uid: 0, gid: 0 },
  { path: 'a-link', mode: 0o120777, uid: 0, gid: 0, data: enc.encode('b/file') },
  { path: 'b/lazy', mode: 0o100755, uid: 0, gid: 0, data: () => Promise.resolve(enc.encode('x')) },
];

describe('cpio writer', () => {
  it('when written, members are sorted, times fixed, inodes numbered, and GNU cpio extracts the same files', async () => {
    const a = await writeCpio(MEMBERS, 1766966400);
    const b = await writeCpio([...MEMBERS].reverse(), 1766966400);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(a.length % 512).toBe(0);
    const back = readCpio(a);
    expect(back.map((e) => e.path)).toEqual(['a-link', 'b', 'b/file', 'b/lazy']);
    expect(back.every((e) => e.mtime === 1766966400)).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'cpio-x-'));
    try {
      execFileSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], {
        cwd: dir,
        input: a,
      });
      expect(await readFile(join(dir, 'b/file'), 'utf8')).toBe('hello\n');
      expect(await readlink(join(dir, 'a-link'))).toBe('b/file');
      expect((await stat(join(dir, 'b/lazy'))).mode & 0o777).toBe(0o755);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const list = execFileSync('cpio', ['-tv', '--quiet', '--numeric-uid-gid'], {
      input: a,
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
    }).toString();
    expect(list).toMatch(/^-rw-r----- +1 1 +2 +6 Dec 29 {2}2025 b\/file$/m);
  });

  it('when a path escapes or repeats, it is refused (PATH_UNSAFE)', async () => {
    for (const path of ['../x', '/abs', 'a//b', 'a/./b'])
      await expect(writeCpio([{ path, mode: 0o100644, uid: 0, gid: 0 }], 0)).rejects.toHaveCode(
        'PATH_UNSAFE',
      );
    await expect(writeCpio([MEMBERS[1]!, MEMBERS[1]!], 0)).rejects.toHaveCode('PATH_UNSAFE');
  });
});

describe('cpio reader', () => {
  it('when the bytes are not the newc form (bad magic, truncated, bytes after the trailer), it refuses with CPIO_INVALID', async () => {
    const good = await writeCpio(MEMBERS, 0);
    expect(() => readCpio(enc.encode('not cpio'))).toThrowWithCode('CPIO_INVALID');
    expect(() => readCpio(good.subarray(0, 200))).toThrowWithCode('CPIO_INVALID');
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    trailing[good.length] = 1;
    expect(() => readCpio(trailing)).toThrowWithCode('CPIO_INVALID');
    const badMagic = Uint8Array.from(good);
    badMagic[5] = 0x32;
    expect(() => readCpio(badMagic)).toThrowWithCode('CPIO_INVALID');
  });
});

describe('tools', () => {
  it('when a program the build needs is absent, it is refused with TOOL_MISSING', async () => {
    await expect(runTool('tee-compile-no-such-tool', [])).rejects.toHaveCode('TOOL_MISSING');
  });
});
