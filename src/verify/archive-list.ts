/**
 * Lists the members of an artifact that is an archive (tar, gzip-compressed tar, zip) so that a
 * difference report can say which members differ. Pure and bounded: the inputs are build outputs
 * from builders that disagree, so they are treated as untrusted.
 */
import { ArchiveError, gunzipBounded, isGzip, readTar } from '../archive/index.js';
import { chunksOf, collect } from '../util/bytes.js';
import { sha256Hex } from './digest.js';

/** Largest archive (decompressed) that is listed member by member. */
export const MAX_LISTED_ARCHIVE_BYTES = 256 * 1024 ** 2;
/** Most members listed per archive. */
export const MAX_LISTED_MEMBERS = 20_000;
/** Members up to this size keep their bytes, for a line summary of the first differing text member. */
export const MAX_KEPT_MEMBER_BYTES = 1024 * 1024;

/** One member as a listing sees it. `content` identifies the bytes (sha256 for tar, crc32+size for zip). */
export interface ArchiveMember {
  name: string;
  type: 'file' | 'directory' | 'symlink';
  size: number;
  content: string;
  /** Metadata that changes the archive's bytes without changing the member's content. */
  meta: string;
  bytes?: Uint8Array;
}

export interface ArchiveListing {
  kind: 'tar' | 'tar.gz' | 'zip';
  members: ArchiveMember[];
}

/** Raised when bytes that look like an archive cannot be listed; the summary says so. */
export class ListingError extends Error {
  override name = 'ListingError';
}

/** True when a tar header's `ustar` magic is at offset 257 (POSIX.1-1988 and GNU). */
export function looksLikeTar(b: Uint8Array): boolean {
  return (
    b.length >= 512 &&
    b[257] === 0x75 &&
    b[258] === 0x73 &&
    b[259] === 0x74 &&
    b[260] === 0x61 &&
    b[261] === 0x72
  );
}

/** True for a zip local file header or an empty archive's end record (APPNOTE 4.3.7, 4.3.16). */
export function looksLikeZip(b: Uint8Array): boolean {
  return (
    b.length >= 4 &&
    b[0] === 0x50 &&
    b[1] === 0x4b &&
    ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6))
  );
}

/** Decompresses gzip within the listing bound, or throws ListingError. */
export async function gunzipForListing(bytes: Uint8Array): Promise<Uint8Array> {
  try {
    return await collect(gunzipBounded(chunksOf(bytes), MAX_LISTED_ARCHIVE_BYTES));
  } catch (e) {
    if (e instanceof ArchiveError) throw new ListingError(e.message);
    throw e;
  }
}

async function listTar(plain: Uint8Array): Promise<ArchiveMember[]> {
  const out: ArchiveMember[] = [];
  try {
    for await (const e of readTar(chunksOf(plain), {
      symlinks: 'inside',
      limits: {
        maxEntries: MAX_LISTED_MEMBERS,
        maxTotalBytes: MAX_LISTED_ARCHIVE_BYTES,
        maxEntryBytes: MAX_LISTED_ARCHIVE_BYTES,
      },
    })) {
      const m: ArchiveMember = {
        name: e.path,
        type: e.type,
        size: e.size,
        content: '',
        meta: `mode ${(e.mode & 0o7777).toString(8)}, mtime ${e.mtime}`,
      };
      if (e.type === 'file') {
        const bytes = await collect(e.body);
        m.content = await sha256Hex(bytes);
        if (bytes.length <= MAX_KEPT_MEMBER_BYTES) m.bytes = bytes;
      } else if (e.type === 'symlink') m.content = `-> ${e.linkTarget ?? ''}`;
      out.push(m);
    }
  } catch (e) {
    if (e instanceof ArchiveError) throw new ListingError(e.message);
    throw e;
  }
  return out;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;

function need(ok: boolean, what: string): void {
  if (!ok) throw new ListingError(`not a readable zip archive: ${what}`);
}

/** Reads the central directory (APPNOTE.TXT 4.3.12-4.3.16, zip64 4.3.14-4.3.15, 4.5.3). */
function listZip(b: Uint8Array): ArchiveMember[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (o: number): number => dv.getUint16(o, true);
  const u32 = (o: number): number => dv.getUint32(o, true);
  const u64 = (o: number): number => Number(dv.getBigUint64(o, true));
  let eocd = -1;
  for (let o = b.length - 22; o >= Math.max(0, b.length - 22 - 0xffff); o--) {
    if (u32(o) === SIG_EOCD) {
      eocd = o;
      break;
    }
  }
  need(eocd >= 0, 'no end of central directory record');
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    need(loc >= 0 && u32(loc) === SIG_ZIP64_LOCATOR, 'zip64 locator missing');
    const z = u64(loc + 8);
    need(z + 56 <= b.length && u32(z) === SIG_ZIP64_EOCD, 'zip64 end record missing');
    count = u64(z + 32);
    cdSize = u64(z + 40);
    cdOffset = u64(z + 48);
  }
  need(count <= MAX_LISTED_MEMBERS, `more than ${MAX_LISTED_MEMBERS} members`);
  need(cdOffset + cdSize <= b.length, 'central directory outside the file');
  const out: ArchiveMember[] = [];
  const utf8 = new TextDecoder();
  let o = cdOffset;
  for (let i = 0; i < count; i++) {
    need(o + 46 <= b.length && u32(o) === SIG_CENTRAL, `central header ${i} is damaged`);
    const method = u16(o + 10);
    const time = u16(o + 12);
    const date = u16(o + 14);
    const crc = u32(o + 16);
    let size = u32(o + 24);
    const nameLen = u16(o + 28);
    const extraLen = u16(o + 30);
    const commentLen = u16(o + 32);
    const attrs = u32(o + 38);
    need(o + 46 + nameLen + extraLen + commentLen <= b.length, `central header ${i} is truncated`);
    const name = utf8.decode(b.subarray(o + 46, o + 46 + nameLen));
    if (size === 0xffffffff) {
      // zip64 extended information extra field (id 1): the uncompressed size comes first.
      for (let x = o + 46 + nameLen; x + 4 <= o + 46 + nameLen + extraLen;) {
        const id = u16(x);
        const len = u16(x + 2);
        if (id === 1 && len >= 8 && x + 12 <= b.length) size = u64(x + 4);
        x += 4 + len;
      }
    }
    const mode = (attrs >>> 16) & 0xffff;
    const isDir = name.endsWith('/');
    const isLink = (mode & 0o170000) === 0o120000;
    out.push({
      name: isDir ? name.slice(0, -1) : name,
      type: isDir ? 'directory' : isLink ? 'symlink' : 'file',
      size,
      content: `crc32 ${crc.toString(16).padStart(8, '0')}, ${size} bytes`,
      meta: `method ${method}, dos time ${date}/${time}, mode ${(mode & 0o7777).toString(8)}`,
    });
    o += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/**
 * Lists an archive, or returns null when the bytes are not one. Throws ListingError when they look
 * like an archive but cannot be listed within the bounds.
 */
export async function listArchive(bytes: Uint8Array): Promise<ArchiveListing | null> {
  if (looksLikeZip(bytes)) return { kind: 'zip', members: listZip(bytes) };
  if (looksLikeTar(bytes)) return { kind: 'tar', members: await listTar(bytes) };
  if (isGzip(bytes)) {
    const plain = await gunzipForListing(bytes);
    if (looksLikeTar(plain)) return { kind: 'tar.gz', members: await listTar(plain) };
  }
  return null;
}
