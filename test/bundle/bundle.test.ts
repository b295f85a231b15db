import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chunksOf } from '../../src/util/bytes.js';
import {
  BundleError,
  encodeBundle,
  readBundle,
  type BundleWriteInput,
} from '../../src/bundle/index.js';
import { writeBundle } from '../../src/bundle/node.js';
import { rawTar, rawTarGz, requiredMembers } from '../support/bundles/bundle-raw.js';
import { gz } from '../support/bundles/bundle-hostile.js';
import { tempDirSync } from '../support/temp.js';

const te = new TextEncoder();
const td = new TextDecoder();

function tmp(): string {
  return tempDirSync('bundle-test-');
}

function input(artifacts: BundleWriteInput['artifacts']): BundleWriteInput {
  return {
    provenance: te.encode('{"_type":"x"}'),
    attestation: new Uint8Array([0xd2, 0x84, 1, 2, 3]),
    log: te.encode('building\ndone\n'),
    artifacts,
  };
}

function listing(file: string): string[] {
  return execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' }).trim().split('\n');
}

describe('writeBundle and readBundle', () => {
  it('when a bundle is written and read back, it gives the same members, bytes and executable bits', async () => {
    const dir = tmp();
    const exe = join(dir, 'hello');
    writeFileSync(exe, '\x7fELF binary');
    chmodSync(exe, 0o755);
    const file = join(dir, 'b.tar.gz');
    const res = await writeBundle(
      file,
      input([
        { name: 'target/release/hello', file: exe },
        { name: 'dist/readme.txt', bytes: te.encode('read me') },
      ]),
    );
    expect(res.sha256).toMatch(/^[0-9a-f]{64}$/);
    const b = await readBundle(new Uint8Array(readFileSync(file)));
    expect(td.decode(b.provenance)).toBe('{"_type":"x"}');
    expect([...b.attestation]).toEqual([0xd2, 0x84, 1, 2, 3]);
    expect(td.decode(b.log)).toBe('building\ndone\n');
    expect([...b.artifacts.keys()].sort()).toEqual(['dist/readme.txt', 'target/release/hello']);
    expect(td.decode(b.artifacts.get('target/release/hello'))).toBe('\x7fELF binary');
    // GNU tar reads it too, in the fixed order, with the modes and zero times we wrote.
    const lines = listing(file);
    expect(lines.map((l) => l.split(/\s+/).pop())).toEqual([
      'provenance.json',
      'attestation.cbor',
      'build.log',
      'artifacts/dist/readme.txt',
      'artifacts/target/release/hello',
    ]);
    expect(lines[4]).toMatch(/^-rwxr-xr-x/);
    expect(lines[3]).toMatch(/^-rw-r--r--/);
    expect(lines[0]).toContain('1970-01-01');
  });

  it('when the same bundle is written twice with artifacts in another order, it gives identical bytes', async () => {
    const dir = tmp();
    const a = { name: 'b/z', bytes: te.encode('z') };
    const b = { name: 'a', bytes: te.encode('a') };
    const c = { name: 'b/a', bytes: te.encode('ba') };
    const one = await writeBundle(join(dir, '1.tar.gz'), input([a, b, c]));
    const two = await writeBundle(join(dir, '2.tar.gz'), input([c, a, b]));
    expect(two.sha256).toBe(one.sha256);
    expect(readFileSync(join(dir, '1.tar.gz'))).toEqual(readFileSync(join(dir, '2.tar.gz')));
  });

  it('when artifact names sort differently in UTF-16 and UTF-8, it orders them bytewise', async () => {
    const bytes = await encodeBundle(
      input([
        { name: '\u{1F600}', bytes: te.encode('emoji') }, // UTF-8 F0…, UTF-16 D83D…
        { name: '\uFF21', bytes: te.encode('fullwidth') }, // UTF-8 EF…, UTF-16 FF21
      ]),
    );
    // Map order is archive order.
    const names = [...(await readBundle(bytes)).artifacts.keys()];
    expect(names).toEqual(['\uFF21', '\u{1F600}']);
  });

  it('when encodeBundle (pure) is read back, it gives the same contents as writeBundle', async () => {
    const dir = tmp();
    const i = input([{ name: 'x/y', bytes: te.encode('y'), executable: true }]);
    await writeBundle(join(dir, 'n.tar.gz'), i);
    const fromNode = await readBundle(new Uint8Array(readFileSync(join(dir, 'n.tar.gz'))));
    const fromWeb = await readBundle(await encodeBundle(i));
    expect(fromWeb).toEqual(fromNode);
    // Same tar stream inside; only the compressor may differ.
    expect(gunzipSync(await encodeBundle(i))).toEqual(
      gunzipSync(readFileSync(join(dir, 'n.tar.gz'))),
    );
  });

  it('when read from a stream of small chunks, it gives the same contents; plain tar is refused as ARCHIVE_MALFORMED', async () => {
    const bundle = await encodeBundle(input([{ name: 'a', bytes: te.encode('A') }]));
    const whole = await readBundle(bundle);
    expect(await readBundle(chunksOf(bundle, 7))).toEqual(whole);
    expect(await readBundle(chunksOf(bundle, 1))).toEqual(whole);
    await expect(readBundle(new Uint8Array(gunzipSync(bundle)))).rejects.toHaveCode(
      'ARCHIVE_MALFORMED',
    );
  });

  it.each([
    ['/abs', 'absolute'],
    ['../up', 'parent'],
    ['a/../b', 'inner ..'],
    ['./a', 'leading ./'],
    ['a//b', 'double slash'],
    ['a/', 'trailing slash'],
    ['', 'empty'],
  ])(
    'when an artifact name is %j (%s), writing refuses it with BUNDLE_ARTIFACT_INVALID',
    async (name) => {
      await expect(encodeBundle(input([{ name, bytes: te.encode('x') }]))).rejects.toHaveCode(
        'BUNDLE_ARTIFACT_INVALID',
      );
    },
  );

  it('when two artifacts have the same name, writing refuses it with BUNDLE_ARTIFACT_INVALID', async () => {
    const dir = tmp();
    await expect(
      writeBundle(
        join(dir, 'b.tar.gz'),
        input([
          { name: 'a', bytes: te.encode('1') },
          { name: 'a', bytes: te.encode('2') },
        ]),
      ),
    ).rejects.toHaveCode('BUNDLE_ARTIFACT_INVALID');
  });

  it('when an artifact has both or neither of file and bytes, writing refuses it', async () => {
    const dir = tmp();
    await expect(writeBundle(join(dir, 'b.tar.gz'), input([{ name: 'a' }]))).rejects.toHaveCode(
      'BUNDLE_ARTIFACT_INVALID',
    );
    await expect(
      writeBundle(join(dir, 'c.tar.gz'), input([{ name: 'a', file: dir, bytes: te.encode('') }])),
    ).rejects.toHaveCode('BUNDLE_ARTIFACT_INVALID');
    await expect(
      writeBundle(join(dir, 'd.tar.gz'), input([{ name: 'a', file: dir }])),
    ).rejects.toHaveCode('BUNDLE_ARTIFACT_INVALID');
  });
});

describe('readBundle refuses archives that do not follow the layout', () => {
  it.each(['provenance.json', 'attestation.cbor', 'build.log'])(
    'when %s is missing, it refuses with BUNDLE_MEMBER_MISSING naming it',
    async (missing) => {
      const err = await readBundle(
        rawTarGz(requiredMembers().filter((m) => m.name !== missing)),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BundleError);
      expect(err).toHaveCode('BUNDLE_MEMBER_MISSING');
      expect((err as BundleError).path).toBe(missing);
    },
  );

  it('when a member is outside the layout, it refuses with BUNDLE_MEMBER_UNEXPECTED', async () => {
    await expect(
      readBundle(rawTarGz([...requiredMembers(), { name: 'extra.txt', data: 'x' }])),
    ).rejects.toHaveCode('BUNDLE_MEMBER_UNEXPECTED');
    // `artifacts` itself as a file is not an artifact.
    await expect(
      readBundle(rawTarGz([...requiredMembers(), { name: 'artifacts', data: 'x' }])),
    ).rejects.toHaveCode('BUNDLE_MEMBER_UNEXPECTED');
  });

  it('when artifacts/ has directory entries (as tar czf writes them), it refuses them: the writer never writes one', async () => {
    await expect(
      readBundle(
        rawTarGz([
          ...requiredMembers(),
          { name: 'artifacts/', typeflag: '5' },
          { name: 'artifacts/bin/x', data: 'x' },
        ]),
      ),
    ).rejects.toHaveCode('BUNDLE_NONCANONICAL');
  });

  it('when a required member appears twice, it refuses with BUNDLE_MEMBER_DUPLICATE; spelled ./provenance.json, it is outside the layout', async () => {
    await expect(
      readBundle(rawTarGz([...requiredMembers(), { name: 'provenance.json', data: '{"a":1}' }])),
    ).rejects.toHaveCode('BUNDLE_MEMBER_DUPLICATE');
    await expect(
      readBundle(rawTarGz([...requiredMembers(), { name: './provenance.json', data: '{"a":1}' }])),
    ).rejects.toHaveCode('BUNDLE_MEMBER_UNEXPECTED');
  });

  it('when a required member or an artifact is over its limit, it refuses before reading it', async () => {
    await expect(
      readBundle(rawTarGz(requiredMembers()), { maxProvenanceBytes: 1 }),
    ).rejects.toHaveCode('BUNDLE_MEMBER_TOO_LARGE');
    await expect(
      readBundle(rawTarGz([...requiredMembers(), { name: 'artifacts/a', data: 'abc' }]), {
        maxArtifactBytes: 2,
      }),
    ).rejects.toHaveCode('BUNDLE_MEMBER_TOO_LARGE');
  });
});

describe('readBundle refuses hostile archives', () => {
  it.each([
    [
      'a path that escapes',
      { name: 'artifacts/../../etc/passwd', data: 'x' },
      'ARCHIVE_UNSAFE_PATH',
    ],
    ['an absolute path', { name: '/etc/passwd', data: 'x' }, 'ARCHIVE_UNSAFE_PATH'],
    [
      'a symlink',
      { name: 'artifacts/l', typeflag: '2', linkname: '/etc/passwd' },
      'BUNDLE_NONCANONICAL',
    ],
    [
      'a hard link',
      { name: 'artifacts/h', typeflag: '1', linkname: 'build.log' },
      'BUNDLE_NONCANONICAL',
    ],
    ['a character device', { name: 'artifacts/tty', typeflag: '3' }, 'BUNDLE_NONCANONICAL'],
    ['a FIFO', { name: 'artifacts/fifo', typeflag: '6' }, 'BUNDLE_NONCANONICAL'],
  ])('when the archive holds %s, it refuses it with %s', async (_what, member, code) => {
    await expect(readBundle(rawTarGz([...requiredMembers(), member]))).rejects.toHaveCode(code);
  });

  it('when the archive has more entries than allowed, it refuses with ARCHIVE_TOO_MANY_ENTRIES', async () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ name: `artifacts/f${i}`, data: 'x' }));
    await expect(
      readBundle(rawTarGz([...requiredMembers(), ...many]), { maxEntries: 10 }),
    ).rejects.toHaveCode('ARCHIVE_TOO_MANY_ENTRIES');
  });

  it('when a header claims more bytes than the total allowed, it refuses with ARCHIVE_TOO_LARGE', async () => {
    await expect(
      readBundle(rawTarGz([...requiredMembers(), { name: 'artifacts/big', size: 2 ** 32 }]), {
        maxTotalBytes: 1024 * 1024,
        maxArtifactBytes: 2 ** 41,
      }),
    ).rejects.toHaveCode('ARCHIVE_TOO_LARGE');
  });

  it('when the gzip stream decompresses beyond the bound (a bomb), it refuses with ARCHIVE_TOO_LARGE at the header', async () => {
    const bomb = rawTarGz([
      ...requiredMembers(),
      { name: 'artifacts/zeros', data: new Uint8Array(8 << 20) },
    ]);
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(readBundle(bomb, { maxTotalBytes: 1 << 20 })).rejects.toHaveCode(
      'ARCHIVE_TOO_LARGE',
    );
  });

  it('when the archive is truncated or not an archive at all, it refuses with ARCHIVE_MALFORMED', async () => {
    const good = rawTar(requiredMembers());
    await expect(readBundle(gz(good.subarray(0, 700)))).rejects.toHaveCode('ARCHIVE_MALFORMED');
    await expect(readBundle(rawTarGz(requiredMembers()).subarray(0, 40))).rejects.toHaveCode(
      'ARCHIVE_MALFORMED',
    );
    await expect(readBundle(new Uint8Array(0))).rejects.toHaveCode('ARCHIVE_MALFORMED');
    const corrupt = gz(good);
    corrupt[corrupt.length - 6]! ^= 0xff; // the CRC32 trailer
    await expect(readBundle(corrupt)).rejects.toHaveCode('ARCHIVE_MALFORMED');
  });
});
