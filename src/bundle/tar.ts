/**
 * The bundle's tar layer, read strictly: every member must be byte for byte what the writer
 * (`encodeEntryHead` in src/archive/tar-write.ts) emits for its name, size and mode, so that no
 * extractor can read a bundle another way than we do. Our own reader instead of the general one
 * (src/archive/tar-parse.ts, which accepts what git archive and tar write) because tar readers
 * disagree exactly on what the writer never writes: pax global headers, pax keys, GNU long names
 * and sparse files, the prefix field, magic and version, base-256 numbers. Each member is checked
 * at its header, before its data is read. Pure. Attacker-controlled input.
 */
import {
  ArchiveError,
  BLOCK,
  ByteReader,
  encodeEntryHead,
  isAllZero,
  parsePax,
} from '../archive/index.js';
import { BundleError } from './errors.js';

/** A regular file of the bundle, as its header gives it. */
export interface TarMember {
  /** The member's name, exactly as written (pax `path` or the ustar name). */
  path: string;
  size: number;
  executable: boolean;
  /** The content: read it, or leave it and it is skipped. */
  body: AsyncIterable<Uint8Array>;
}

/** Longest pax extended header the writer emits for a bundle: a `path` record within the limits. */
export const MAX_BUNDLE_PAX_BYTES = 8192;

const FIELDS: [number, string][] = [
  [0, 'name'],
  [100, 'mode'],
  [108, 'uid'],
  [116, 'gid'],
  [124, 'size'],
  [136, 'mtime'],
  [148, 'checksum'],
  [156, 'typeflag'],
  [157, 'linkname'],
  [257, 'magic'],
  [263, 'version'],
  [265, 'uname'],
  [297, 'gname'],
  [329, 'devmajor'],
  [337, 'devminor'],
  [345, 'prefix'],
  [500, 'unused header bytes'],
];

const TYPES: Record<string, string> = {
  g: 'a pax global header (typeflag g)',
  x: 'a second pax extended header in a row',
  L: 'a GNU long name (typeflag L)',
  K: 'a GNU long link name (typeflag K)',
  S: 'a GNU sparse file (typeflag S)',
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '5': 'a directory',
  '6': 'a FIFO',
  '7': 'a contiguous file (typeflag 7)',
  '\0': 'an old-style file (typeflag NUL)',
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function noncanonical(path: string, what: string): BundleError {
  return new BundleError('BUNDLE_NONCANONICAL', `${JSON.stringify(path)}: ${what}`, { path });
}

function cname(block: Uint8Array): string {
  let end = 0;
  while (end < 100 && block[end] !== 0) end++;
  try {
    return strictUtf8.decode(block.subarray(0, end));
  } catch {
    return new TextDecoder().decode(block.subarray(0, end));
  }
}

/** An octal field as the writer writes it (zero-padded digits then NUL), or null. */
function octal(block: Uint8Array, off: number, len: number): number | null {
  let v = 0;
  for (let i = off; i < off + len - 1; i++) {
    const c = block[i]!;
    if (c < 0x30 || c > 0x37) return null;
    v = v * 8 + (c - 0x30);
  }
  return block[off + len - 1] === 0 ? v : null;
}

/** Names the first header field in which `got` differs from the writer's `want`. */
function fieldDiff(got: Uint8Array, want: Uint8Array): string | null {
  let first: number | null = null;
  for (let i = 0; i < BLOCK; i++) {
    if (got[i] === want[i]) continue;
    if (i >= 148 && i < 156) {
      first ??= i;
      continue;
    }
    first = i;
    break;
  }
  if (first === null) return null;
  let name = 'name';
  let start = 0;
  let end = BLOCK;
  for (const [k, [off, n]] of FIELDS.entries()) {
    if (off > first) break;
    name = n;
    start = off;
    end = FIELDS[k + 1]?.[0] ?? BLOCK;
  }
  const show = (b: Uint8Array): string =>
    JSON.stringify(new TextDecoder().decode(b.subarray(start, end)).replace(/\0+$/, ''));
  return `header field ${name} is ${show(got)}, the writer writes ${show(want)}`;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

async function readBlock(r: ByteReader, what: string): Promise<Uint8Array> {
  const b = await r.readExact(BLOCK, what);
  if (b === null)
    throw new ArchiveError(
      'ARCHIVE_MALFORMED',
      'the tar stream ends without an end-of-archive marker',
    );
  return b.slice();
}

async function readPadding(r: ByteReader, n: number, path: string): Promise<void> {
  if (n === 0) return;
  const p = await r.readExact(n, 'padding');
  if (p === null || !isAllZero(p)) throw noncanonical(path, 'padding after the data is not zero');
}

/**
 * Reads the bundle's tar stream member by member. Refusals: BUNDLE_NONCANONICAL for any header,
 * pax record, type, padding or end of archive the writer would not write; ARCHIVE_MALFORMED when
 * the stream is truncated.
 */
export async function* readCanonicalTar(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<TarMember, void> {
  const r = new ByteReader(source);
  try {
    for (;;) {
      let block = await readBlock(r, 'a header');
      if (isAllZero(block)) {
        const second = await r.readExact(BLOCK, 'the end-of-archive marker');
        if (second === null || !isAllZero(second))
          throw noncanonical('end of archive', 'the end-of-archive marker is not two zero blocks');
        if (!(await r.atEnd()))
          throw noncanonical(
            'end of archive',
            'data after the end-of-archive marker (the writer writes two zero blocks and nothing more)',
          );
        return;
      }
      let paxHead: Uint8Array | null = null;
      let paxData: Uint8Array | null = null;
      let records = new Map<string, string>();
      if (block[156] === 0x78 /* x */) {
        const size = octal(block, 124, 12);
        if (size === null || size > MAX_BUNDLE_PAX_BYTES)
          throw noncanonical(cname(block), 'pax extended header of a size the writer never writes');
        paxHead = block;
        const data = (await r.readExact(size, 'a pax header')) ?? new Uint8Array(0);
        paxData = data.slice();
        if (paxData.length !== size)
          throw new ArchiveError('ARCHIVE_MALFORMED', 'the tar stream ends in a pax header');
        records = parsePax(paxData);
        for (const k of records.keys())
          if (k !== 'path' && k !== 'size')
            throw noncanonical(
              records.get('path') ?? cname(block),
              `pax key ${JSON.stringify(k)} is outside the writer's allow-list (path, size)`,
            );
        const padBytes = await r.readExact(pad(size), 'padding');
        if (pad(size) > 0 && (padBytes === null || !isAllZero(padBytes)))
          throw noncanonical(records.get('path') ?? '', 'pax header padding is not zero');
        if (pad(size) > 0) paxData = concat(paxData, padBytes!);
        block = await readBlock(r, 'a header');
        if (isAllZero(block))
          throw noncanonical(records.get('path') ?? '', 'a pax header with no member after it');
      }
      const path = records.get('path') ?? cname(block);
      const type = String.fromCharCode(block[156]!);
      if (type !== '0')
        throw noncanonical(
          path,
          `${TYPES[type] ?? `typeflag ${JSON.stringify(type)}`}: a bundle holds regular files only`,
        );
      const paxSize = records.get('size');
      const size =
        paxSize !== undefined
          ? /^[1-9][0-9]*$/.test(paxSize)
            ? Number(paxSize)
            : null
          : octal(block, 124, 12);
      if (size === null || !Number.isSafeInteger(size))
        throw noncanonical(path, 'the size is not written as the writer writes it');
      const executable = octal(block, 100, 8) === 0o755;
      const want = encodeEntryHead({ path, type: 'file', executable }, size, 0);
      const wantPax = want.length === 3;
      if (wantPax !== (paxHead !== null))
        throw noncanonical(
          path,
          wantPax
            ? 'the name or size needs a pax record, as the writer writes it'
            : 'a pax header the writer would not write for this name and size',
        );
      if (paxHead !== null) {
        const d = fieldDiff(paxHead, want[0]!);
        if (d !== null) throw noncanonical(path, `pax header: ${d}`);
        if (!same(paxData!, want[1]!))
          throw noncanonical(
            path,
            "pax records are not the writer's (order, form or extra records)",
          );
      }
      const d = fieldDiff(block, want[want.length - 1]!);
      if (d !== null) throw noncanonical(path, d);

      let consumed = false;
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: () => {
          if (consumed) throw new Error('bundle member body read twice');
          consumed = true;
          return r.stream(size, path)[Symbol.asyncIterator]();
        },
      };
      const before = r.position;
      yield { path, size, executable, body };
      const read = r.position - before;
      if (read < size) await r.skip(size - read, path);
      await readPadding(r, pad(size), path);
    }
  } finally {
    await r.close().catch(() => undefined);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
