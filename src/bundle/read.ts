/**
 * Reading a bundle from untrusted bytes. The archive module does the mechanics (gzip bound, tar
 * structure, unsafe paths, links, devices, duplicates, counts); this file enforces the layout and a
 * size bound per member before its bytes are read. Pure: no Node APIs.
 */
import type { ArchiveLimits } from '../archive/index.js';
import { decompressedBound, gunzipBounded, readTar } from '../archive/index.js';
import { chunksOf, collect } from '../util/bytes.js';
import { BundleError } from './errors.js';
import type { BundleLimits } from './limits.js';
import { MAX_BUNDLE_PATH_BYTES, MAX_BUNDLE_PATH_DEPTH, resolveBundleLimits } from './limits.js';
import type { BundleContents } from './types.js';
import {
  BUNDLE_ARTIFACTS_DIR,
  BUNDLE_ATTESTATION,
  BUNDLE_ENVELOPE,
  BUNDLE_LOG,
  BUNDLE_PROVENANCE,
} from './types.js';

const ARTIFACT_PREFIX = `${BUNDLE_ARTIFACTS_DIR}/`;

type Required = 'provenance' | 'attestation' | 'log';

/** The optional member: the DSSE envelope, bounded by provenance.json's limit in base64 plus room. */
const ENVELOPE_LIMIT = (l: BundleLimits): number => Math.ceil(l.maxProvenanceBytes / 3) * 4 + 4096;

const REQUIRED: Record<string, { field: Required; limit: keyof BundleLimits }> = {
  [BUNDLE_PROVENANCE]: { field: 'provenance', limit: 'maxProvenanceBytes' },
  [BUNDLE_ATTESTATION]: { field: 'attestation', limit: 'maxAttestationBytes' },
  [BUNDLE_LOG]: { field: 'log', limit: 'maxLogBytes' },
};

function archiveLimits(l: BundleLimits): ArchiveLimits {
  return {
    maxEntries: l.maxEntries,
    maxEntryBytes: Math.max(
      l.maxArtifactBytes,
      l.maxProvenanceBytes,
      l.maxAttestationBytes,
      l.maxLogBytes,
    ),
    maxTotalBytes: l.maxTotalBytes,
    maxPathBytes: MAX_BUNDLE_PATH_BYTES,
    maxDepth: MAX_BUNDLE_PATH_DEPTH,
  };
}

function tooLarge(path: string, size: number, limit: number): BundleError {
  return new BundleError(
    'BUNDLE_MEMBER_TOO_LARGE',
    `${path} is ${size} bytes, more than the ${limit} allowed`,
    { path },
  );
}

/**
 * Reads a bundle (`.tar.gz`, or plain `.tar`) into memory. Throws `ArchiveError` when the archive
 * itself is refused (path escape, link, device, duplicate, oversize, too many entries, corrupt) and
 * `BundleError` when it does not follow the bundle layout (a required member missing or repeated, a
 * member outside the layout, a member over its limit). Attacker-controlled input.
 */
export async function readBundle(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  limits?: Partial<BundleLimits>,
): Promise<BundleContents> {
  const l = resolveBundleLimits(limits);
  const al = archiveLimits(l);
  const stream = source instanceof Uint8Array ? chunksOf(source) : source;
  const plain = gunzipBounded(stream, decompressedBound(al));
  const found: Partial<Record<Required | 'envelope', Uint8Array>> = {};
  const artifacts = new Map<string, Uint8Array>();

  // Symlinks stay refused (the reader's default): a bundle never needs one.
  for await (const e of readTar(plain, { limits: al })) {
    if (e.type === 'directory') {
      // Directory entries are harmless inside artifacts/ (tools such as `tar czf` write them).
      if (e.path === BUNDLE_ARTIFACTS_DIR || e.path.startsWith(ARTIFACT_PREFIX)) continue;
      throw unexpected(e.path);
    }
    if (e.path === BUNDLE_ENVELOPE) {
      if (found.envelope !== undefined) throw duplicate(e.path);
      if (e.size > ENVELOPE_LIMIT(l)) throw tooLarge(e.path, e.size, ENVELOPE_LIMIT(l));
      found.envelope = await collect(e.body);
      continue;
    }
    const req = REQUIRED[e.path];
    if (req !== undefined) {
      if (found[req.field] !== undefined) throw duplicate(e.path);
      if (e.size > l[req.limit]) throw tooLarge(e.path, e.size, l[req.limit]);
      found[req.field] = await collect(e.body);
      continue;
    }
    if (e.path.startsWith(ARTIFACT_PREFIX)) {
      const name = e.path.slice(ARTIFACT_PREFIX.length);
      if (artifacts.has(name)) throw duplicate(e.path);
      if (e.size > l.maxArtifactBytes) throw tooLarge(e.path, e.size, l.maxArtifactBytes);
      artifacts.set(name, await collect(e.body));
      continue;
    }
    throw unexpected(e.path);
  }

  for (const [path, req] of Object.entries(REQUIRED)) {
    if (found[req.field] === undefined) {
      throw new BundleError('BUNDLE_MEMBER_MISSING', `the bundle has no ${path}`, { path });
    }
  }
  return {
    provenance: found.provenance!,
    ...(found.envelope !== undefined ? { envelope: found.envelope } : {}),
    attestation: found.attestation!,
    log: found.log!,
    artifacts,
  };
}

function unexpected(path: string): BundleError {
  return new BundleError(
    'BUNDLE_MEMBER_UNEXPECTED',
    `${path} is not part of the bundle layout (${BUNDLE_PROVENANCE}, ${BUNDLE_ENVELOPE}, ${BUNDLE_ATTESTATION}, ${BUNDLE_LOG}, ${ARTIFACT_PREFIX}…)`,
    { path },
  );
}

function duplicate(path: string): BundleError {
  return new BundleError(
    'BUNDLE_MEMBER_DUPLICATE',
    `${path} appears more than once in the bundle`,
    {
      path,
    },
  );
}
