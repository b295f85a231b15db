/**
 * Git objects without git: the commit object format, tree object encoding and object ids
 * (git's "Git Objects" chapter and Documentation/technical/hash-function-transition.txt for
 * SHA-256). Pure: runs in the worker on untrusted bytes and in a browser verifier.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { compareBytes, toHex, utf8 } from '../../util/encoding.js';
import { provenanceError } from '../errors.js';
import type { ObjectFormat } from '../types.js';

/** Length in hex digits of an object id. */
export const OID_HEX_LENGTH: Record<ObjectFormat, number> = { sha1: 40, sha256: 64 };

/** A commit object is small; anything larger is refused before parsing. */
export const MAX_COMMIT_OBJECT_BYTES = 1 << 20;

/** An identity line of a commit (`author`/`committer`). */
export interface CommitIdentity {
  name: string;
  email: string;
  /** Seconds since the epoch. */
  time: number;
  /** Time zone offset as written, e.g. `+0200`. */
  timezone: string;
}

/** A parsed commit object. */
export interface CommitObject {
  tree: string;
  parents: string[];
  author: CommitIdentity;
  committer: CommitIdentity;
  /** Other headers in order (`encoding`, `gpgsig`, `mergetag`, ...), continuation lines joined by `\n`. */
  extraHeaders: { key: string; value: string }[];
  message: string;
  objectFormat: ObjectFormat;
}

/** The object types whose ids tee-compile computes. */
export type GitObjectType = 'blob' | 'tree' | 'commit' | 'tag';

/** `<type> <size>\0`, the header git hashes in front of every object's content. */
export function objectHeader(type: GitObjectType, size: number): Uint8Array {
  return utf8(`${type} ${size}\0`);
}

/** Object id (raw bytes) of an object's content, as `git hash-object -t <type>` computes it. */
export function hashObject(
  type: GitObjectType,
  content: Uint8Array,
  format: ObjectFormat,
): Uint8Array {
  const h = format === 'sha1' ? sha1.create() : sha256.create();
  h.update(objectHeader(type, content.length));
  h.update(content);
  return h.digest();
}

/** Commit id (hex) of a raw commit object (what `git cat-file commit <id>` prints). */
export function computeCommitId(raw: Uint8Array, format: ObjectFormat): string {
  return toHex(hashObject('commit', raw, format));
}

const decoder = new TextDecoder('utf-8');
const IDENT_RE = /^([^<>\n]*?) ?<([^<>\n]*)> ([0-9]{1,18}) ([+-][0-9]{4})$/;

function malformed(what: string): never {
  throw provenanceError(
    'COMMIT_MALFORMED',
    `commit object is malformed: ${what}; send the bytes printed by \`git cat-file commit <id>\``,
  );
}

/** Parses an identity line's value (`Name <email> <time> <zone>`), or null when it is not one. */
export function parseIdentity(value: string): CommitIdentity | null {
  const m = IDENT_RE.exec(value);
  if (m === null) return null;
  const time = Number(m[3]);
  if (!Number.isSafeInteger(time)) return null;
  return { name: m[1]!, email: m[2]!, time, timezone: m[4]! };
}

function parseIdent(key: string, value: string): CommitIdentity {
  const ident = parseIdentity(value);
  if (ident === null) malformed(`bad ${key} line (or its time out of range)`);
  return ident;
}

/**
 * Parses a raw commit object strictly: `tree`, then `parent` lines, `author`, `committer`, other
 * headers (with space-led continuation lines), a blank line, the message. The object format is
 * inferred from the length of the tree id. Throws COMMIT_MALFORMED.
 */
export function parseCommitObject(raw: Uint8Array): CommitObject {
  if (raw.length > MAX_COMMIT_OBJECT_BYTES)
    malformed(`larger than ${MAX_COMMIT_OBJECT_BYTES} bytes`);
  // Header/body separator: the first empty line.
  let sep = -1;
  for (let i = 0; i + 1 < raw.length; i++) {
    if (raw[i] === 0x0a && raw[i + 1] === 0x0a) {
      sep = i;
      break;
    }
  }
  if (sep < 0) malformed('no blank line after the headers');
  const headerText = decoder.decode(raw.subarray(0, sep));
  const message = decoder.decode(raw.subarray(sep + 2));
  if (headerText.includes('\0')) malformed('NUL byte in the headers');
  const lines = headerText.split('\n');
  const headers: { key: string; value: string }[] = [];
  for (const line of lines) {
    if (line.startsWith(' ')) {
      const last = headers[headers.length - 1];
      if (last === undefined) malformed('continuation line before any header');
      last.value += `\n${line.slice(1)}`;
      continue;
    }
    const sp = line.indexOf(' ');
    if (sp <= 0) malformed(`header line without a value: ${JSON.stringify(line.slice(0, 40))}`);
    headers.push({ key: line.slice(0, sp), value: line.slice(sp + 1) });
  }
  let i = 0;
  const next = (): { key: string; value: string } | undefined => headers[i];
  const tree = next();
  if (tree?.key !== 'tree') malformed('the first header must be `tree`');
  i++;
  let objectFormat: ObjectFormat;
  if (/^[0-9a-f]{40}$/.test(tree.value)) objectFormat = 'sha1';
  else if (/^[0-9a-f]{64}$/.test(tree.value)) objectFormat = 'sha256';
  else malformed('tree id is not a lower-case SHA-1 or SHA-256 hex id');
  const oidRe = objectFormat === 'sha1' ? /^[0-9a-f]{40}$/ : /^[0-9a-f]{64}$/;
  const parents: string[] = [];
  while (next()?.key === 'parent') {
    const p = next()!.value;
    if (!oidRe.test(p))
      malformed(`parent id ${JSON.stringify(p.slice(0, 70))} is not a ${objectFormat} id`);
    parents.push(p);
    i++;
  }
  const author = next();
  if (author?.key !== 'author') malformed('missing `author` after tree and parents');
  i++;
  const committer = next();
  if (committer?.key !== 'committer') malformed('missing `committer` after `author`');
  i++;
  const extraHeaders = headers.slice(i);
  for (const h of extraHeaders) {
    if (['tree', 'parent', 'author', 'committer'].includes(h.key))
      malformed(`\`${h.key}\` out of place`);
  }
  return {
    tree: tree.value,
    parents,
    author: parseIdent('author', author.value),
    committer: parseIdent('committer', committer.value),
    extraHeaders,
    message,
    objectFormat,
  };
}

/**
 * The committer time of a commit (seconds since the epoch): a good `SOURCE_DATE_EPOCH` for
 * reproducible builds (https://reproducible-builds.org/specs/source-date-epoch/).
 */
export function sourceDateEpoch(commit: Uint8Array | CommitObject): number {
  const c = commit instanceof Uint8Array ? parseCommitObject(commit) : commit;
  return c.committer.time;
}

/** Tree entry modes as git writes them in tree objects (no leading zero for trees). */
export type TreeEntryMode = '100644' | '100755' | '120000' | '40000' | '160000';

/** One entry of a tree object. */
export interface TreeEntry {
  mode: TreeEntryMode;
  /** The name's bytes (git names are bytes, usually UTF-8). */
  name: Uint8Array;
  /** Raw object id. */
  oid: Uint8Array;
}

const SLASH = 0x2f;

/**
 * Git's tree order (tree.c/`base_name_compare`): bytewise on names, where a tree compares as if its
 * name ended with `/`.
 */
export function compareTreeEntries(a: TreeEntry, b: TreeEntry): number {
  const n = Math.min(a.name.length, b.name.length);
  for (let i = 0; i < n; i++) {
    const d = a.name[i]! - b.name[i]!;
    if (d !== 0) return d;
  }
  const ca = a.name.length > n ? a.name[n]! : a.mode === '40000' ? SLASH : 0;
  const cb = b.name.length > n ? b.name[n]! : b.mode === '40000' ? SLASH : 0;
  return ca - cb || compareBytes(a.name, b.name);
}

/** The content of a tree object: `<mode> <name>\0<raw oid>` per entry, in git's tree order. */
export function encodeTree(entries: TreeEntry[]): Uint8Array {
  const sorted = [...entries].sort(compareTreeEntries);
  // One allocation for the whole object (a source tree has thousands of entries).
  let size = 0;
  for (const e of sorted) size += modePrefix(e.mode).length + e.name.length + 1 + e.oid.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const e of sorted) {
    const prefix = modePrefix(e.mode);
    out.set(prefix, at);
    at += prefix.length;
    out.set(e.name, at);
    at += e.name.length;
    out[at++] = 0;
    out.set(e.oid, at);
    at += e.oid.length;
  }
  return out;
}

/** `<mode> ` of each mode git writes, encoded once. */
const MODE_PREFIXES: ReadonlyMap<string, Uint8Array> = new Map(
  (['100644', '100755', '120000', '40000', '160000'] as const).map((m) => [m, utf8(`${m} `)]),
);

function modePrefix(mode: string): Uint8Array {
  return MODE_PREFIXES.get(mode) ?? utf8(`${mode} `);
}
