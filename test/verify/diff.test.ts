import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeTar, type TarInputEntry } from '../../src/archive/index.js';
import { collect } from '../../src/util/bytes.js';
import { MAX_SUMMARY_CHARS, fileDifferences, summarizeDifference } from '../../src/verify/diff.js';
import { sha256Hex } from '../../src/verify/digest.js';
import { tempDirSync } from '../support/temp.js';

const te = new TextEncoder();

async function tar(files: Record<string, string>, mtime = 0): Promise<Uint8Array> {
  const entries: TarInputEntry[] = Object.entries(files).map(([path, c]) => ({
    path,
    type: 'file',
    content: te.encode(c),
  }));
  return collect(writeTar(entries, { mtime }));
}

function zip(files: Record<string, string>): Uint8Array {
  const dir = tempDirSync('diff-zip-');
  for (const [p, c] of Object.entries(files)) writeFileSync(join(dir, p), c);
  execFileSync('zip', ['-X', '-q', 'out.zip', ...Object.keys(files)], { cwd: dir });
  return new Uint8Array(readFileSync(join(dir, 'out.zip')));
}

describe('summarizeDifference', () => {
  it('when two texts differ, it shows the first differing lines with their number', async () => {
    const a = te.encode('one\ntwo\nversion 1.0 built Monday\nfour\n');
    const b = te.encode('one\ntwo\nversion 1.0 built Tuesday\nfour\n');
    expect(await summarizeDifference(a, b)).toBe(
      'text differs at line 3:\n  - version 1.0 built Monday\n  + version 1.0 built Tuesday',
    );
  });

  it('when many lines differ, it shows a few of each side and counts the rest', async () => {
    const a = te.encode(Array.from({ length: 50 }, (_, i) => `a${i}`).join('\n'));
    const b = te.encode(Array.from({ length: 50 }, (_, i) => `b${i}`).join('\n'));
    const s = await summarizeDifference(a, b);
    expect(s).toContain('lines from 1 (50 in the majority, 50 here)');
    expect(s).toContain('- … 47 more');
    expect(s.split('\n')).toHaveLength(9);
  });

  it('when a text line carries terminal escapes or is very long, it is escaped and cut', async () => {
    const evil = `\x1b]0;pwned\x07\x1b[2J${'x'.repeat(500)}`;
    const s = await summarizeDifference(te.encode('ok\n'), te.encode(`${evil}\n`));
    expect(s).not.toContain('\x1b');
    expect(s).toContain('\\x1b]0;pwned\\x07');
    expect(s.split('\n').every((l) => l.length <= 130)).toBe(true);
  });

  it('when binaries differ, it gives both sizes, the first differing offset and the count', async () => {
    const a = new Uint8Array([0, 1, 2, 3, 4, 5]);
    const b = new Uint8Array([0, 1, 9, 3, 4, 5, 6]);
    expect(await summarizeDifference(a, b)).toBe(
      'binary: 6 bytes in the majority, 7 here; first difference at offset 2 (0x2); 2 bytes differ',
    );
  });

  it('when tar archives differ, it names the members that differ, that are on one side only, and the first text change', async () => {
    const a = await tar({
      'bin/tool': '\0ELF',
      'share/VERSION': 'v1\nbuilt at 10:00\n',
      'share/old': 'x',
    });
    const b = await tar({
      'bin/tool': '\0ELF2',
      'share/VERSION': 'v1\nbuilt at 10:05\n',
      'share/new': 'y',
    });
    const s = await summarizeDifference(a, b);
    expect(s).toContain('tar archive: 2 members differ, 1 only in the majority, 1 only here');
    expect(s).toContain('content differs: bin/tool (4 vs 5 bytes), share/VERSION (18 vs 18 bytes)');
    expect(s).toContain('only in the majority: share/old');
    expect(s).toContain('only here: share/new');
    expect(s).toContain('in share/VERSION: text differs at line 2:');
    expect(s).toContain('+ built at 10:05');
  });

  it('when .tar.gz (.crate, .tgz) archives differ only in member times, it says so', async () => {
    const a = gzipSync(await tar({ 'pkg/Cargo.toml': '[package]\n' }, 0));
    const b = gzipSync(await tar({ 'pkg/Cargo.toml': '[package]\n' }, 1700000000));
    const s = await summarizeDifference(a, b);
    expect(s).toContain('tar.gz archive: 0 members differ, 0 only in the majority, 0 only here');
    expect(s).toContain('metadata differs (mode, time): pkg/Cargo.toml');
  });

  it('when gzip streams of the same content differ (compression level), it says the content is the same', async () => {
    const content = te.encode('hello '.repeat(1000));
    const s = await summarizeDifference(
      gzipSync(content, { level: 1 }),
      gzipSync(content, { level: 9 }),
    );
    expect(s).toBe('gzip: same content once decompressed: the gzip header or compression differs');
  });

  it('when zip archives differ, it names the differing members from the central directory', async () => {
    const a = zip({ 'a.txt': 'same', 'b.class': 'one' });
    const b = zip({ 'a.txt': 'same', 'b.class': 'two!', 'c.txt': 'new' });
    const s = await summarizeDifference(a, b);
    expect(s).toContain('zip archive: 1 members differ, 0 only in the majority, 1 only here');
    expect(s).toContain('content differs: b.class (3 vs 4 bytes)');
    expect(s).toContain('only here: c.txt');
  });

  it('when something that looks like an archive is damaged, it says so and still compares the bytes', async () => {
    const a = zip({ 'a.txt': 'x' });
    const b = a.slice(0, 30); // local header only, no central directory
    const s = await summarizeDifference(a, b);
    expect(s).toMatch(/^not a readable zip archive: .*; binary: /);
  });

  it('when an archive has very many differing members, the summary stays short', async () => {
    const files = (v: string) =>
      Object.fromEntries(
        Array.from({ length: 300 }, (_, i) => [`dir/file-with-a-long-name-${i}.txt`, v]),
      );
    const s = await summarizeDifference(await tar(files('a')), await tar(files('b')));
    expect(s.length).toBeLessThanOrEqual(MAX_SUMMARY_CHARS);
    expect(s).toContain('and 295 more');
  });
});

describe('fileDifferences', () => {
  async function side(files: Record<string, string>) {
    const artifacts = new Map(Object.entries(files).map(([k, v]) => [k, te.encode(v)]));
    const subjects = await Promise.all(
      [...artifacts].map(async ([name, b]) => ({ name, sha256: await sha256Hex(b) })),
    );
    return { subjects, artifacts };
  }

  it('when outputs differ, it lists each differing file with both digests and sizes, and files on one side only', async () => {
    const a = await side({ same: 's', changed: 'version 1\n', gone: 'g' });
    const b = await side({ same: 's', changed: 'version 2\n', extra: 'e!' });
    const calls: string[] = [];
    const diffs = await fileDifferences(a, b, (path) => {
      calls.push(path);
      return Promise.resolve(`deep report of ${path}`);
    });
    expect(diffs.map((d) => d.path)).toEqual(['changed', 'extra', 'gone']);
    const [changed, extra, gone] = diffs;
    expect(changed).toEqual({
      path: 'changed',
      majority: { sha256: await sha256Hex(te.encode('version 1\n')), size: 10 },
      dissent: { sha256: await sha256Hex(te.encode('version 2\n')), size: 10 },
      summary: 'text differs at line 1:\n  - version 1\n  + version 2',
      diffoscope: 'deep report of changed',
    });
    expect(extra).toEqual({
      path: 'extra',
      majority: null,
      dissent: { sha256: b.subjects[2]!.sha256, size: 2 },
    });
    expect(gone!.dissent).toBeNull();
    expect(calls).toEqual(['changed']);
  });

  it('when the comparer has nothing to say, no diffoscope field is set', async () => {
    const diffs = await fileDifferences(await side({ f: '1' }), await side({ f: '2' }), () =>
      Promise.resolve(null),
    );
    expect(diffs[0]).not.toHaveProperty('diffoscope');
  });
});
