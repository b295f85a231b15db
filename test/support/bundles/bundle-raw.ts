/**
 * Raw tar archives for attacks on bundle readers: any member name, type, link target or size,
 * written as given (the project's writer normalises and would refuse them).
 */
import { gzipSync } from 'node:zlib';
import { BLOCK, encodeHeader } from '../../../src/archive/tar-header.js';
import { BUNDLE_GZIP_HEADER } from '../../../src/bundle/index.js';
import { concatBytes } from '../../../src/util/bytes.js';

export interface RawMember {
  name: string;
  /** Tar type flag: '0' file, '1' hard link, '2' symlink, '3'/'4' devices, '5' directory, '6' FIFO. */
  typeflag?: string;
  data?: Uint8Array | string;
  linkname?: string;
  /** Size written in the header (default: the data's length). */
  size?: number;
}

const te = new TextEncoder();

/** A tar archive with exactly these members, then the end-of-archive marker. */
export function rawTar(members: RawMember[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const data = typeof m.data === 'string' ? te.encode(m.data) : (m.data ?? new Uint8Array(0));
    parts.push(
      encodeHeader({
        name: m.name,
        mode: 0o644,
        size: m.size ?? data.length,
        mtime: 0,
        typeflag: m.typeflag ?? '0',
        linkname: m.linkname ?? '',
      }),
    );
    parts.push(data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  return concatBytes(parts);
}

/** The same, gzip-compressed with the bundle writer's gzip header (XFL 2, OS 3). */
export function rawTarGz(members: RawMember[]): Uint8Array {
  const out = new Uint8Array(gzipSync(rawTar(members), { level: 9 }));
  out.set(BUNDLE_GZIP_HEADER, 0);
  return out;
}

/** The three required members with placeholder content. */
export function requiredMembers(): RawMember[] {
  return [
    { name: 'provenance.json', data: '{}' },
    { name: 'attestation.cbor', data: 'cose' },
    { name: 'build.log', data: 'log\n' },
  ];
}
