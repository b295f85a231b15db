/**
 * Hostile variants of a genuine bundle for the differential harness: the tar stream is cut into its
 * members and rebuilt with one trick each (pax global headers, pax keys, GNU types, prefix and
 * version games, links and devices, case and Unicode collisions, data after the end, concatenated
 * archives, multi-member and decorated gzip). Each keeps the attested members, so that only the
 * reader's strictness stands between the trick and a VERIFIED verdict.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { BLOCK, encodeHeader, encodePax } from '../../src/archive/tar-header.js';
import { BUNDLE_GZIP_HEADER } from '../../src/bundle/index.js';
import { concatBytes } from '../../src/util/bytes.js';

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

/** gzip as our writer does (level 9, no name, mtime 0). */
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
