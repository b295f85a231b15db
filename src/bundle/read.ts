/**
 * Reading a bundle from untrusted bytes, in one pass: the gzip and tar layers accept only what the
 * writer emits (./gzip.ts, ./tar.ts); this file enforces the member table (./members.ts): the fixed
 * members in their order, then the artifacts in bytewise order with names that cannot meet on any
 * file system, each member's size bound checked at its header, before its data is read. Pure.
 */
import { ArchiveError } from '../archive/index.js';
import { collect, chunksOf, compareUtf8 } from '../util/bytes.js';
import { BundleError } from './errors.js';
import { gunzipCanonical } from './gzip.js';
import type { BundleLimits } from './limits.js';
import { resolveBundleLimits } from './limits.js';
import type { FixedMember } from './members.js';
import { ARTIFACT_PREFIX, ArtifactNames, FIXED_MEMBERS, artifactNameProblem } from './members.js';
import { readCanonicalTar } from './tar.js';
import type { BundleContents, BundleFixedFields } from './types.js';

/** A member of a bundle as it streams by: a fixed member or an artifact, with its content. */
export type BundleMember =
  | { kind: 'fixed'; member: FixedMember; size: number; body: AsyncIterable<Uint8Array> }
  | {
      kind: 'artifact';
      /** The subject name: the path under `artifacts/`. */
      name: string;
      size: number;
      executable: boolean;
      body: AsyncIterable<Uint8Array>;
    };

function tooLarge(path: string, size: number, limit: number): BundleError {
  return new BundleError(
    'BUNDLE_MEMBER_TOO_LARGE',
    `${JSON.stringify(path)} is ${size} bytes, more than the ${limit} allowed`,
    { path },
  );
}

function missing(m: FixedMember): BundleError {
  return new BundleError('BUNDLE_MEMBER_MISSING', `the bundle has no ${m.name}`, { path: m.name });
}

function duplicate(path: string): BundleError {
  return new BundleError(
    'BUNDLE_MEMBER_DUPLICATE',
    `${JSON.stringify(path)} appears more than once in the bundle`,
    { path },
  );
}

function noncanonical(path: string, what: string): BundleError {
  return new BundleError('BUNDLE_NONCANONICAL', `${JSON.stringify(path)}: ${what}`, { path });
}

/** A name that would land outside the extraction directory keeps its own, older code. */
function unsafe(path: string): ArchiveError | null {
  if (path.startsWith('/') || path.split('/').includes('..'))
    return new ArchiveError(
      'ARCHIVE_UNSAFE_PATH',
      `${JSON.stringify(path)} would be written outside the extraction directory`,
      { path },
    );
  return null;
}

/**
 * Reads a bundle (`.tar.gz`) as a stream of members in archive order. Each member must be read or
 * left before the next is asked for; a consumer that stops early closes the source. Throws
 * `BundleError` (BUNDLE_NONCANONICAL, BUNDLE_MEMBER_MISSING, _DUPLICATE, _UNEXPECTED, _TOO_LARGE)
 * or `ArchiveError` (corrupt or truncated data, unsafe paths, counts and totals over the limits).
 * The end of the stream is checked (end-of-archive marker, gzip trailer, nothing after it) before
 * the generator finishes.
 */
export async function* readBundleMembers(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  limits?: Partial<BundleLimits>,
): AsyncGenerator<BundleMember, void> {
  const l = resolveBundleLimits(limits);
  const stream = source instanceof Uint8Array ? chunksOf(source) : source;
  const seen = new Set<string>();
  const names = new ArtifactNames();
  let next = 0;
  let lastArtifact: string | null = null;
  let entries = 0;
  let total = 0;

  for await (const m of readCanonicalTar(gunzipCanonical(stream))) {
    const path = m.path;
    if (++entries > l.maxEntries)
      throw new ArchiveError(
        'ARCHIVE_TOO_MANY_ENTRIES',
        `the bundle has more than ${l.maxEntries} members`,
      );
    total += m.size;
    if (total > l.maxTotalBytes)
      throw new ArchiveError(
        'ARCHIVE_TOO_LARGE',
        `the bundle's members exceed ${l.maxTotalBytes} bytes in total`,
        { path },
      );
    const fixedAt = FIXED_MEMBERS.findIndex((f) => f.name === path);
    if (fixedAt >= 0) {
      const f = FIXED_MEMBERS[fixedAt]!;
      if (seen.has(path)) throw duplicate(path);
      if (fixedAt < next || lastArtifact !== null)
        throw noncanonical(
          path,
          'out of order (the writer writes the fixed members first, in their order)',
        );
      for (const skipped of FIXED_MEMBERS.slice(next, fixedAt))
        if (skipped.required) throw missing(skipped);
      if (m.executable) throw noncanonical(path, 'mode 0755, the writer writes 0644');
      if (m.size > l[f.limit]) throw tooLarge(path, m.size, l[f.limit]);
      seen.add(path);
      next = fixedAt + 1;
      yield { kind: 'fixed', member: f, size: m.size, body: m.body };
      continue;
    }
    const bad = unsafe(path);
    if (bad !== null) throw bad;
    if (!path.startsWith(ARTIFACT_PREFIX))
      throw new BundleError(
        'BUNDLE_MEMBER_UNEXPECTED',
        `${JSON.stringify(path)} is not part of the bundle layout (${FIXED_MEMBERS.map((f) => f.name).join(', ')}, ${ARTIFACT_PREFIX}…)`,
        { path },
      );
    for (const f of FIXED_MEMBERS.slice(next)) if (f.required) throw missing(f);
    next = FIXED_MEMBERS.length;
    const name = path.slice(ARTIFACT_PREFIX.length);
    const problem = artifactNameProblem(name);
    if (problem !== null) throw noncanonical(path, problem);
    if (lastArtifact !== null) {
      const order = compareUtf8(lastArtifact, name);
      if (order === 0) throw duplicate(path);
      if (order > 0)
        throw noncanonical(
          path,
          'out of order (the writer writes artifacts in bytewise name order)',
        );
    }
    const clash = names.add(name);
    if (clash !== null) throw noncanonical(path, clash);
    lastArtifact = name;
    if (m.size > l.maxArtifactBytes) throw tooLarge(path, m.size, l.maxArtifactBytes);
    yield { kind: 'artifact', name, size: m.size, executable: m.executable, body: m.body };
  }
  for (const f of FIXED_MEMBERS.slice(next)) if (f.required) throw missing(f);
}

/**
 * Reads a whole bundle into memory (see `readBundleMembers` for what is refused). For bundles that
 * fit in memory; verification streams instead.
 */
export async function readBundle(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  limits?: Partial<BundleLimits>,
): Promise<BundleContents> {
  const fixed: Partial<BundleFixedFields> = {};
  const artifacts = new Map<string, Uint8Array>();
  for await (const m of readBundleMembers(source, limits)) {
    const bytes = await collect(m.body);
    if (m.kind === 'fixed') fixed[m.member.field] = bytes;
    else artifacts.set(m.name, bytes);
  }
  return { ...(fixed as BundleFixedFields), artifacts };
}

/**
 * Reads the named artifacts of a bundle (each at most `maxBytes`; larger ones are left out), for
 * difference reports after a streaming verification.
 */
export async function readArtifacts(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  wanted: ReadonlySet<string>,
  maxBytes: number,
  limits?: Partial<BundleLimits>,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const m of readBundleMembers(source, limits)) {
    if (m.kind === 'artifact' && wanted.has(m.name) && m.size <= maxBytes)
      out.set(m.name, await collect(m.body));
  }
  return out;
}
