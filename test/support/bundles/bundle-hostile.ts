/**
 * Hostile variants of a genuine bundle for the differential harness: the tar stream is cut into its
 * members and rebuilt with one trick each (pax global headers, pax keys, GNU types, prefix and
 * version games, links and devices, case and Unicode collisions, data after the end, concatenated
 * archives, multi-member and decorated gzip). Each keeps the attested members, so that only the
 * reader's strictness stands between the trick and a VERIFIED verdict.
 */
import { crc32, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import type { TarInputEntry } from '../../../src/archive/index.js';
import { encodeEntryHead, writeTar } from '../../../src/archive/index.js';
import type { BundleWriteInput } from '../../../src/bundle/index.js';
import { BLOCK, encodeHeader, encodePax } from '../../../src/archive/tar-header.js';
import { BUNDLE_GZIP_HEADER } from '../../../src/bundle/index.js';
import { collect, concatBytes } from '../../../src/util/bytes.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** One member of a tar stream as written: its header blocks (pax included) and padded data. */
export interface TarPart {
  /** The member's name as the ustar header holds it (pax path when there is one). */
  name: string;
  head: Uint8Array;
  data: Uint8Array;
}

const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

function octal(block: Uint8Array, off: number, len: number): number {
  const s = td.decode(block.subarray(off, off + len)).replace(/[\0 ]+$/, '');
  return s === '' ? 0 : parseInt(s, 8);
}

/** Cuts a tar stream written by our writer into members; the end-of-archive blocks are dropped. */
export function splitTar(tar: Uint8Array): TarPart[] {
  const out: TarPart[] = [];
  let off = 0;
  let headStart = 0;
  let paxPath: string | null = null;
  while (off + BLOCK <= tar.length) {
    const block = tar.subarray(off, off + BLOCK);
    if (block.every((b) => b === 0)) break;
    const size = octal(block, 124, 12);
    const type = String.fromCharCode(block[156]!);
    const dataLen = size + pad(size);
    if (type === 'x') {
      const rec = td.decode(tar.subarray(off + BLOCK, off + BLOCK + size));
      const m = /\d+ path=([^\n]*)\n/.exec(rec);
      paxPath = m === null ? null : m[1]!;
      off += BLOCK + dataLen;
      continue;
    }
    const name = paxPath ?? td.decode(block.subarray(0, 100)).replace(/\0.*$/s, '');
    out.push({
      name,
      head: tar.slice(headStart, off + BLOCK),
      data: tar.slice(off + BLOCK, off + BLOCK + dataLen),
    });
    paxPath = null;
    off += BLOCK + dataLen;
    headStart = off;
  }
  return out;
}

/** The tar stream of these parts, with the two-block end-of-archive marker. */
export function joinTar(
  parts: readonly TarPart[],
  trailer = new Uint8Array(2 * BLOCK),
): Uint8Array {
  return concatBytes([...parts.flatMap((p) => [p.head, p.data]), trailer]);
}

/** Recomputes a header block's checksum in the writer's form (six octal digits, NUL, space). */
export function fixChecksum(block: Uint8Array): Uint8Array {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  block.set(te.encode(sum.toString(8).padStart(6, '0')), 148);
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** A copy of a header block with raw bytes written at `off` (checksum fixed unless told not to). */
export function patchHeader(
  block: Uint8Array,
  off: number,
  bytes: Uint8Array | string,
  fix = true,
): Uint8Array {
  const b = block.slice();
  b.set(typeof bytes === 'string' ? te.encode(bytes) : bytes, off);
  return fix ? fixChecksum(b) : b;
}

/** Data padded to a whole block. */
export function padded(data: Uint8Array | string): Uint8Array {
  const d = typeof data === 'string' ? te.encode(data) : data;
  return concatBytes([d, new Uint8Array(pad(d.length))]);
}

/** A header block of the writer's form, for members the writer would not write. */
export function header(h: {
  name: string;
  size?: number;
  typeflag?: string;
  mode?: number;
  linkname?: string;
}): Uint8Array {
  return encodeHeader({
    name: h.name,
    mode: h.mode ?? 0o644,
    size: h.size ?? 0,
    mtime: 0,
    typeflag: h.typeflag ?? '0',
    linkname: h.linkname ?? '',
  });
}

/** An extended header member (`x` local, `g` global) with these records. */
export function paxPart(type: 'x' | 'g', records: [string, string][]): Uint8Array {
  const data = encodePax(records);
  return concatBytes([
    header({
      name: type === 'g' ? 'pax_global_header' : '././@PaxHeader',
      size: data.length,
      typeflag: type,
    }),
    padded(data),
  ]);
}

/** A plain member: header then padded data. */
export function member(name: string, data: Uint8Array | string, typeflag = '0'): TarPart {
  const d = typeof data === 'string' ? te.encode(data) : data;
  return { name, head: header({ name, size: d.length, typeflag }), data: padded(d) };
}

/** The decompressed tar of a gzip bundle. */
export function tarOf(gz: Uint8Array): Uint8Array {
  return new Uint8Array(gunzipSync(gz));
}

/** gzip with our writer's header (no name, mtime 0; the level does not matter to readers). */
export function gz(tar: Uint8Array): Uint8Array {
  const out = new Uint8Array(gzipSync(tar, { level: 9 }));
  out.set(BUNDLE_GZIP_HEADER, 0);
  return out;
}

/**
 * The headline attack: a pax global header naming an attested artifact, then a member that our old
 * reader took for a harmless directory (`artifacts/x/`, type 0, size 0). GNU tar applies the global
 * `path` and `size` to it and writes 512 zero bytes over the attested artifact.
 */
export function paxGlobalOverwrite(tar: Uint8Array, artifact: string): Uint8Array {
  const parts = splitTar(tar);
  const zeros = new Uint8Array(BLOCK);
  const trick: TarPart = {
    name: 'artifacts/x/',
    head: concatBytes([
      paxPart('g', [
        ['path', `artifacts/${artifact}`],
        ['size', String(BLOCK)],
      ]),
      header({ name: 'artifacts/x/' }),
    ]),
    data: zeros,
  };
  return joinTar([...parts, trick]);
}

/** A gzip member around `tar` with this 10-byte header and these optional fields (RFC 1952). */
export function gzipWith(
  tar: Uint8Array,
  header: number[],
  extra: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const body = deflateRawSync(tar, { level: 9 });
  const trailer = new Uint8Array(8);
  const dv = new DataView(trailer.buffer);
  dv.setUint32(0, crc32(tar), true);
  dv.setUint32(4, tar.length % 2 ** 32, true);
  return concatBytes([Uint8Array.from(header), extra, body, trailer]);
}

const HEAD = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3];
const withByte = (i: number, v: number): number[] => HEAD.map((b, j) => (j === i ? v : b));

/** A hostile variant: its name, its bytes, and the refusal verification must give. */
export interface Hostile {
  name: string;
  bytes: Uint8Array;
  code: string;
}

function onPart(tar: Uint8Array, i: number, f: (p: TarPart) => TarPart | TarPart[]): Uint8Array {
  const parts = splitTar(tar);
  return joinTar(parts.flatMap((p, j) => (j === i ? f(p) : [p])));
}

function headerOf(p: TarPart): Uint8Array {
  return p.head.subarray(p.head.length - BLOCK);
}

function withHeader(
  p: TarPart,
  block: Uint8Array,
  before: Uint8Array = new Uint8Array(0),
): TarPart {
  return { ...p, head: concatBytes([before, block]) };
}

const field = (p: TarPart, off: number, v: string): TarPart =>
  withHeader(p, patchHeader(headerOf(p), off, v));

/**
 * The catalogue of hostile bundles over a genuine one (whose last member is an artifact), one per
 * form the writer never emits. Every one keeps the genuine attested members.
 */
export function hostileVariants(genuine: Uint8Array): Hostile[] {
  const tar = tarOf(genuine);
  const parts = splitTar(tar);
  const last = parts.length - 1;
  const art = parts[last]!.name;
  const NC = 'BUNDLE_NONCANONICAL';
  const typed = (t: string, link = ''): Uint8Array =>
    gz(
      onPart(tar, last, (p) =>
        withHeader(p, patchHeader(patchHeader(headerOf(p), 156, t), 157, link)),
      ),
    );
  const fullName = te.encode(art);
  const v: Hostile[] = [
    {
      name: 'pax global header renaming a member onto an artifact',
      bytes: gz(paxGlobalOverwrite(tar, art.slice(10))),
      code: NC,
    },
    {
      name: 'pax global header before the first member',
      bytes: gz(
        joinTar([
          { name: 'g', head: paxPart('g', [['comment', 'x']]), data: new Uint8Array(0) },
          ...parts,
        ]),
      ),
      code: NC,
    },
    ...(
      ['GNU.sparse.name', 'mtime', 'uid', 'linkpath', 'comment', 'SCHILY.xattr.user.x'] as const
    ).map((k) => ({
      name: `pax key ${k}`,
      bytes: gz(
        onPart(tar, last, (p) =>
          withHeader(
            p,
            headerOf(p),
            paxPart('x', [[k, k === 'GNU.sparse.name' ? 'artifacts/x' : '1']]),
          ),
        ),
      ),
      code: NC,
    })),
    {
      name: 'pax path record for a name the ustar field holds',
      bytes: gz(
        onPart(tar, last, (p) => withHeader(p, headerOf(p), paxPart('x', [['path', art]]))),
      ),
      code: NC,
    },
    {
      name: 'GNU long name',
      bytes: gz(
        onPart(tar, last, (p) =>
          withHeader(
            p,
            headerOf(p),
            concatBytes([
              header({ name: '././@LongLink', size: fullName.length + 1, typeflag: 'L' }),
              padded(concatBytes([fullName, new Uint8Array(1)])),
            ]),
          ),
        ),
      ),
      code: NC,
    },
    {
      name: 'GNU long link name',
      bytes: gz(
        onPart(tar, last, (p) =>
          withHeader(
            p,
            headerOf(p),
            concatBytes([
              header({ name: '././@LongLink', size: 4, typeflag: 'K' }),
              padded('abc\0'),
            ]),
          ),
        ),
      ),
      code: NC,
    },
    { name: 'GNU sparse type', bytes: typed('S'), code: NC },
    { name: 'contiguous file type 7', bytes: typed('7'), code: NC },
    { name: 'old-style NUL type', bytes: typed('\0'), code: NC },
    { name: 'hard link', bytes: typed('1', 'build.log'), code: NC },
    { name: 'symbolic link', bytes: typed('2', '/etc/passwd'), code: NC },
    { name: 'character device', bytes: typed('3'), code: NC },
    { name: 'block device', bytes: typed('4'), code: NC },
    { name: 'directory', bytes: typed('5'), code: NC },
    { name: 'FIFO', bytes: typed('6'), code: NC },
    {
      name: 'GNU magic "ustar  "',
      bytes: gz(onPart(tar, last, (p) => field(p, 257, 'ustar  \0'))),
      code: NC,
    },
    {
      name: 'ustar version "0 "',
      bytes: gz(onPart(tar, last, (p) => field(p, 263, '0 '))),
      code: NC,
    },
    {
      name: 'prefix field holding part of the name',
      bytes: gz(
        onPart(tar, last, (p) => {
          const cut = art.lastIndexOf('/');
          const b = headerOf(p).slice();
          b.fill(0, 0, 100);
          return withHeader(
            p,
            patchHeader(patchHeader(b, 0, art.slice(cut + 1)), 345, art.slice(0, cut)),
          );
        }),
      ),
      code: NC,
    },
    { name: 'mode 0600', bytes: gz(onPart(tar, last, (p) => field(p, 100, '0000600'))), code: NC },
    {
      name: 'setuid mode 4755',
      bytes: gz(onPart(tar, last, (p) => field(p, 100, '0004755'))),
      code: NC,
    },
    { name: 'uid 1000', bytes: gz(onPart(tar, last, (p) => field(p, 108, '0001750'))), code: NC },
    { name: 'uname root', bytes: gz(onPart(tar, last, (p) => field(p, 265, 'root'))), code: NC },
    {
      name: 'mtime 1',
      bytes: gz(onPart(tar, last, (p) => field(p, 136, '00000000001'))),
      code: NC,
    },
    {
      name: 'devmajor set',
      bytes: gz(onPart(tar, last, (p) => field(p, 329, '0000001'))),
      code: NC,
    },
    {
      name: 'checksum in another form',
      bytes: gz(
        onPart(tar, last, (p) => {
          const b = headerOf(p).slice();
          const sum = td.decode(b.subarray(148, 154));
          b.set(te.encode(` ${sum.slice(1)}\0 `.slice(0, 8)), 148);
          return withHeader(p, patchHeader(b, 148, ` ${sum.slice(1)}\0`, false));
        }),
      ),
      code: NC,
    },
    {
      name: 'size in base-256',
      bytes: gz(
        onPart(tar, last, (p) => {
          const b = headerOf(p).slice();
          const size = octalField(b, 124, 12);
          const f = new Uint8Array(12);
          f[0] = 0x80;
          new DataView(f.buffer).setUint32(8, size);
          return withHeader(p, patchHeader(b, 124, f));
        }),
      ),
      code: NC,
    },
    {
      name: 'size with leading spaces',
      bytes: gz(
        onPart(tar, last, (p) => {
          const size = octalField(headerOf(p), 124, 12);
          return field(p, 124, size.toString(8).padStart(11, ' '));
        }),
      ),
      code: NC,
    },
    {
      name: 'non-zero padding after data',
      bytes: gz(
        onPart(tar, 0, (p) => ({ ...p, data: patchData(p.data, p.data.length - 1, 0x41) })),
      ),
      code: NC,
    },
    {
      name: 'non-zero unused header bytes',
      bytes: gz(onPart(tar, last, (p) => field(p, 505, 'x'))),
      code: NC,
    },
    {
      name: 'artifacts out of order',
      bytes: gz(joinTar([...parts.slice(0, 3), ...parts.slice(3).reverse()])),
      code: NC,
    },
    {
      name: 'fixed members out of order',
      bytes: gz(joinTar([parts[1]!, parts[0]!, ...parts.slice(2)])),
      code: 'BUNDLE_MALFORMED',
    },
    {
      name: 'data after the end-of-archive marker',
      bytes: gz(concatBytes([tar, te.encode('extra')])),
      code: NC,
    },
    {
      name: 'a tar record of zero padding (tar -b 20)',
      bytes: gz(concatBytes([tar, new Uint8Array(10240 - (tar.length % 10240))])),
      code: NC,
    },
    {
      name: 'a second archive concatenated',
      bytes: gz(concatBytes([tar, joinTar([member(`artifacts/zz`, 'evil')])])),
      code: NC,
    },
    {
      name: 'a second gzip member',
      bytes: concatBytes([gz(tar.subarray(0, 1024)), gz(tar.subarray(1024))]),
      code: NC,
    },
    {
      name: 'a second gzip member of zeros',
      bytes: concatBytes([gz(tar), gz(new Uint8Array(1024))]),
      code: NC,
    },
    {
      name: 'bytes after the gzip trailer',
      bytes: concatBytes([gz(tar), te.encode('junk')]),
      code: NC,
    },
    {
      name: 'zero bytes after the gzip trailer',
      bytes: concatBytes([gz(tar), new Uint8Array(16)]),
      code: NC,
    },
    {
      name: 'gzip FNAME',
      bytes: gzipWith(tar, withByte(3, 8), te.encode('bundle.tar\0')),
      code: NC,
    },
    { name: 'gzip FCOMMENT', bytes: gzipWith(tar, withByte(3, 16), te.encode('hi\0')), code: NC },
    {
      name: 'gzip FEXTRA',
      bytes: gzipWith(tar, withByte(3, 4), Uint8Array.of(4, 0, 0x41, 0x42, 0, 0)),
      code: NC,
    },
    { name: 'gzip FHCRC', bytes: gzipWith(tar, withByte(3, 2), Uint8Array.of(0, 0)), code: NC },
    { name: 'gzip FTEXT', bytes: gzipWith(tar, withByte(3, 1)), code: NC },
    { name: 'gzip MTIME', bytes: gzipWith(tar, withByte(4, 1)), code: NC },
    { name: 'gzip OS 255', bytes: gzipWith(tar, withByte(9, 255)), code: NC },
    { name: 'gzip XFL 0', bytes: gzipWith(tar, withByte(8, 0)), code: NC },
    {
      name: 'a control character in a name',
      bytes: gz(joinTar([...parts, canonicalMember('artifacts/zz\u001b[2J', 'x')])),
      code: NC,
    },
    {
      name: 'an artifact no subject lists',
      bytes: gz(joinTar([...parts, member('artifacts/zzz', 'unlisted')])),
      code: 'ARTIFACT_UNEXPECTED',
    },
    { name: 'a plain tar', bytes: tar, code: 'BUNDLE_MALFORMED' },
  ];
  return v;
}

function octalField(b: Uint8Array, off: number, len: number): number {
  return parseInt(td.decode(b.subarray(off, off + len - 1)), 8);
}

function patchData(d: Uint8Array, i: number, v: number): Uint8Array {
  const out = d.slice();
  out[i] = v;
  return out;
}

/** A hostile writer: the tar of exactly these entries in this order, no name rules applied. */
export async function unruledWriter(input: BundleWriteInput): Promise<Uint8Array> {
  const entries: TarInputEntry[] = [
    { path: 'provenance.json', type: 'file', content: input.provenance },
    { path: 'attestation.cbor', type: 'file', content: input.attestation },
    { path: 'build.log', type: 'file', content: input.log },
    ...input.artifacts.map((a) => ({
      path: `artifacts/${a.name}`,
      type: 'file' as const,
      content: a.bytes!,
    })),
  ];
  return gz(await collect(writeTar(entries, { mtime: 0 })));
}

/** A member written as the writer writes it (pax path where needed), whatever its name. */
export function canonicalMember(name: string, data: string): TarPart {
  const d = te.encode(data);
  return {
    name,
    head: concatBytes(encodeEntryHead({ path: name, type: 'file' }, d.length, 0)),
    data: padded(d),
  };
}
