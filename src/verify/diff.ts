/**
 * Short, bounded summaries of how two versions of one artifact differ: first differing lines for
 * text, differing members for archives (tar, tar.gz/.tgz/.crate, zip), the first differing offset
 * for anything else. Pure. The contents come from builders that disagree: everything shown is
 * escaped and cut to length.
 */
import { isGzip } from '../archive/index.js';
import { compareBytewise } from '../bundle/index.js';
import { printable } from '../util/printable.js';
import type { ArchiveListing, ArchiveMember } from './archive-list.js';
import { ListingError, gunzipForListing, listArchive } from './archive-list.js';
import type { FileComparer, FileDifference, Subject } from './types.js';

/** Longest summary of one file. */
export const MAX_SUMMARY_CHARS = 1500;
/** Largest text compared line by line. */
export const MAX_TEXT_DIFF_BYTES = 8 * 1024 ** 2;
/** Lines shown per side of a text difference. */
export const MAX_SUMMARY_LINES = 3;
/** Longest line shown. */
export const MAX_LINE_CHARS = 120;
/** Member names shown per category of an archive difference. */
export const MAX_LISTED_NAMES = 5;
/** Files per dissenting bundle that get a summary and a deep comparison (all are listed). */
export const MAX_DETAILED_FILES = 10;

function clip(s: string): string {
  return s.length > MAX_SUMMARY_CHARS ? `${s.slice(0, MAX_SUMMARY_CHARS - 1)}…` : s;
}

/** The text of `b` when it is UTF-8 without NUL and not too large, else null. */
function asText(b: Uint8Array): string | null {
  if (b.length > MAX_TEXT_DIFF_BYTES || b.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return null;
  }
}

/**
 * How the two sides of a comparison are named: the reference side in summaries ("2 lines in the
 * majority", "only in group 1") and both sides as the directories a deep comparer shows.
 */
export interface DifferenceLabels {
  reference: string;
  sides: readonly [string, string];
}

/** The labels when the reference side is the majority's outputs. */
export const MAJORITY_LABELS: DifferenceLabels = {
  reference: 'the majority',
  sides: ['majority', 'dissent'],
};

/** The first hunk of a line comparison (common prefix and suffix removed), or null when not text. */
export function textSummary(
  a: Uint8Array,
  b: Uint8Array,
  reference = MAJORITY_LABELS.reference,
): string | null {
  const ta = asText(a);
  const tb = asText(b);
  if (ta === null || tb === null) return null;
  const la = ta.split('\n');
  const lb = tb.split('\n');
  let p = 0;
  while (p < la.length && p < lb.length && la[p] === lb[p]) p++;
  let s = 0;
  while (s < la.length - p && s < lb.length - p && la[la.length - 1 - s] === lb[lb.length - 1 - s])
    s++;
  const removed = la.slice(p, la.length - s);
  const added = lb.slice(p, lb.length - s);
  const out: string[] = [];
  const where =
    removed.length <= 1 && added.length <= 1
      ? `line ${p + 1}`
      : `lines from ${p + 1} (${removed.length} in ${reference}, ${added.length} here)`;
  out.push(`text differs at ${where}:`);
  for (const l of removed.slice(0, MAX_SUMMARY_LINES))
    out.push(`  - ${printable(l, MAX_LINE_CHARS)}`);
  if (removed.length > MAX_SUMMARY_LINES)
    out.push(`  - … ${removed.length - MAX_SUMMARY_LINES} more`);
  for (const l of added.slice(0, MAX_SUMMARY_LINES))
    out.push(`  + ${printable(l, MAX_LINE_CHARS)}`);
  if (added.length > MAX_SUMMARY_LINES) out.push(`  + … ${added.length - MAX_SUMMARY_LINES} more`);
  return out.join('\n');
}

/** Sizes, the first differing offset and how many bytes differ. */
export function binarySummary(
  a: Uint8Array,
  b: Uint8Array,
  reference = MAJORITY_LABELS.reference,
): string {
  const n = Math.min(a.length, b.length);
  let first = -1;
  let count = Math.abs(a.length - b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first < 0) first = n;
  return `binary: ${a.length} bytes in ${reference}, ${b.length} here; first difference at offset ${first} (0x${first.toString(16)}); ${count} bytes differ`;
}

function names(list: string[]): string {
  const shown = list.slice(0, MAX_LISTED_NAMES).map((n) => printable(n, 80));
  return list.length > MAX_LISTED_NAMES
    ? `${shown.join(', ')} and ${list.length - MAX_LISTED_NAMES} more`
    : shown.join(', ');
}

function archiveSummary(
  kind: string,
  a: ArchiveListing,
  b: ArchiveListing,
  reference: string,
): string {
  const ma = new Map(a.members.map((m) => [m.name, m]));
  const mb = new Map(b.members.map((m) => [m.name, m]));
  const onlyA = a.members.filter((m) => !mb.has(m.name)).map((m) => m.name);
  const onlyB = b.members.filter((m) => !ma.has(m.name)).map((m) => m.name);
  const content: [ArchiveMember, ArchiveMember][] = [];
  const meta: string[] = [];
  for (const x of a.members) {
    const y = mb.get(x.name);
    if (y === undefined) continue;
    if (x.type !== y.type || x.content !== y.content) content.push([x, y]);
    else if (x.meta !== y.meta) meta.push(x.name);
  }
  const out: string[] = [];
  const differs = content.map(([x, y]) => `${x.name} (${x.size} vs ${y.size} bytes)`);
  out.push(
    `${kind} archive: ${content.length} members differ, ${onlyA.length} only in ${reference}, ${onlyB.length} only here`,
  );
  if (differs.length > 0) out.push(`  content differs: ${names(differs)}`);
  if (onlyA.length > 0) out.push(`  only in ${reference}: ${names(onlyA)}`);
  if (onlyB.length > 0) out.push(`  only here: ${names(onlyB)}`);
  if (meta.length > 0) out.push(`  metadata differs (mode, time): ${names(meta)}`);
  if (content.length === 0 && onlyA.length === 0 && onlyB.length === 0 && meta.length === 0) {
    const sameOrder = a.members.every((m, i) => b.members[i]?.name === m.name);
    out.push(
      sameOrder
        ? '  same members, contents and metadata: the container itself differs (headers, padding or compression)'
        : '  same members and contents in a different order',
    );
  }
  // One level deeper for the first differing member that is text: usually the reason.
  for (const [x, y] of content) {
    if (x.bytes === undefined || y.bytes === undefined) continue;
    const t = textSummary(x.bytes, y.bytes, reference);
    if (t === null) continue;
    out.push(`  in ${printable(x.name, 80)}: ${t.split('\n').join('\n  ')}`);
    break;
  }
  return out.join('\n');
}

/**
 * A short human summary of how `dissent` differs from `majority` (same path in both bundles);
 * `reference` names the first side (default "the majority").
 */
export async function summarizeDifference(
  majority: Uint8Array,
  dissent: Uint8Array,
  reference = MAJORITY_LABELS.reference,
): Promise<string> {
  try {
    const la = await listArchive(majority);
    const lb = await listArchive(dissent);
    if (la !== null && lb !== null && la.kind === lb.kind) {
      return clip(archiveSummary(la.kind, la, lb, reference));
    }
    if (la === null && lb === null && isGzip(majority) && isGzip(dissent)) {
      const pa = await gunzipForListing(majority);
      const pb = await gunzipForListing(dissent);
      const inner =
        pa.length === pb.length && pa.every((v, i) => v === pb[i])
          ? 'same content once decompressed: the gzip header or compression differs'
          : (textSummary(pa, pb, reference) ?? binarySummary(pa, pb, reference));
      return clip(`gzip: ${inner}`);
    }
  } catch (e) {
    if (!(e instanceof ListingError)) throw e;
    return clip(`${e.message}; ${binarySummary(majority, dissent, reference)}`);
  }
  return clip(
    textSummary(majority, dissent, reference) ?? binarySummary(majority, dissent, reference),
  );
}

/** One side of a comparison: the subjects of a verified bundle and its artifacts. */
export interface ComparedSide {
  subjects: readonly Subject[];
  /** Bytes of the artifacts to summarise (all, or a bounded selection). */
  artifacts: ReadonlyMap<string, Uint8Array>;
  /** Sizes of all artifacts, when `artifacts` holds only some. */
  sizes?: ReadonlyMap<string, number>;
}

/**
 * Files of `dissent` that differ from `majority`'s: different digests and files present on one side
 * only, in bytewise path order. The first MAX_DETAILED_FILES differing files present on both sides
 * get a summary and, when `compare` is given, its report. `labels` name the sides when the first
 * is not the majority.
 */
export async function fileDifferences(
  majority: ComparedSide,
  dissent: ComparedSide,
  compare?: FileComparer,
  labels: DifferenceLabels = MAJORITY_LABELS,
): Promise<FileDifference[]> {
  const a = new Map(majority.subjects.map((s) => [s.name, s.sha256]));
  const b = new Map(dissent.subjects.map((s) => [s.name, s.sha256]));
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort(compareBytewise);
  const out: FileDifference[] = [];
  let detailed = 0;
  for (const path of paths) {
    const da = a.get(path);
    const db = b.get(path);
    if (da === db) continue;
    const ba = majority.artifacts.get(path);
    const bb = dissent.artifacts.get(path);
    const d: FileDifference = {
      path,
      majority:
        da === undefined
          ? null
          : { sha256: da, size: majority.sizes?.get(path) ?? ba?.length ?? 0 },
      dissent:
        db === undefined ? null : { sha256: db, size: dissent.sizes?.get(path) ?? bb?.length ?? 0 },
    };
    if (ba !== undefined && bb !== undefined && da !== undefined && db !== undefined) {
      if (detailed++ < MAX_DETAILED_FILES) {
        d.summary = await summarizeDifference(ba, bb, labels.reference);
        const report = compare === undefined ? null : await compare(path, ba, bb, labels.sides);
        if (report !== null) d.diffoscope = report;
      }
    }
    out.push(d);
  }
  return out;
}
