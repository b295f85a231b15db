/**
 * The bundle's members, in one place: the fixed members in their order (the writer writes them in
 * this order, the reader accepts no other), then `artifacts/<name>` in bytewise name order. A new
 * fixed member is one row here plus its field in `BundleFixedFields`; writer and reader follow.
 * The rules on artifact names live here too, so that the writer refuses what the reader would.
 */
import type { BundleLimits } from './limits.js';
import { MAX_BUNDLE_PATH_BYTES, MAX_BUNDLE_PATH_DEPTH } from './limits.js';
import type { BundleFixedFields } from './types.js';
import {
  BUNDLE_ARTIFACTS_DIR,
  BUNDLE_ATTESTATION,
  BUNDLE_ENVELOPE,
  BUNDLE_LOG,
  BUNDLE_PROVENANCE,
} from './types.js';

/** A fixed member of the bundle. */
export interface FixedMember {
  /** Its name in the archive. */
  name: string;
  /** Where its bytes go in `BundleContents` and come from in `BundleWriteInput`. */
  field: keyof BundleFixedFields;
  /** The limit on its size. */
  limit: keyof BundleLimits;
  /** A bundle without it is refused (BUNDLE_MEMBER_MISSING); an optional one may be absent. */
  required: boolean;
}

/**
 * The fixed members, in archive order. provenance.json and attestation.cbor come first so that a
 * streaming verifier knows the attested subjects before any artifact arrives.
 */
export const FIXED_MEMBERS: readonly FixedMember[] = [
  { name: BUNDLE_PROVENANCE, field: 'provenance', limit: 'maxProvenanceBytes', required: true },
  { name: BUNDLE_ENVELOPE, field: 'envelope', limit: 'maxEnvelopeBytes', required: false },
  { name: BUNDLE_ATTESTATION, field: 'attestation', limit: 'maxAttestationBytes', required: true },
  { name: BUNDLE_LOG, field: 'log', limit: 'maxLogBytes', required: true },
];

/** Prefix of artifact members. */
export const ARTIFACT_PREFIX = `${BUNDLE_ARTIFACTS_DIR}/`;

const te = new TextEncoder();

/** C0 and C1 controls and DEL: a name holding one can print as another, or break a terminal. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/** A UTF-16 surrogate on its own has no UTF-8 form: the name on disk would not be the subject's. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * What is wrong with an artifact name (the subject name, the path under `artifacts/`), or null:
 * it must be a normalised relative POSIX path (no leading `/`, no `.`/`..`/empty component, no
 * trailing `/`), without control characters or lone surrogates, within the path limits.
 */
export function artifactNameProblem(name: string): string | null {
  if (name === '') return 'the name is empty';
  if (CONTROL.test(name)) return 'the name holds a control character';
  if (LONE_SURROGATE.test(name)) return 'the name holds a lone UTF-16 surrogate (not UTF-8)';
  const parts = name.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..'))
    return 'not a normalised relative path (no leading /, ./, //, .. or trailing /)';
  if (te.encode(ARTIFACT_PREFIX + name).length > MAX_BUNDLE_PATH_BYTES)
    return `the path is longer than ${MAX_BUNDLE_PATH_BYTES} bytes`;
  if (parts.length + 1 > MAX_BUNDLE_PATH_DEPTH)
    return `the path is deeper than ${MAX_BUNDLE_PATH_DEPTH} levels`;
  return null;
}

/**
 * How a file system that ignores case or Unicode normalisation (macOS, Windows) names a path:
 * NFD, then case folded through upper and lower case (wider than any one file system's folding,
 * so that no two accepted names meet on any of them).
 */
function fold(path: string): string {
  return path.normalize('NFD').toUpperCase().toLowerCase().normalize('NFD');
}

/**
 * Artifact names seen so far: refuses a name that is, on some file system users extract to, the
 * same file as an earlier one (`A.txt`/`a.txt`, NFC/NFD forms), or a file where another name needs
 * a directory (`a` and `a/b`). Returns the problem, or null.
 */
export class ArtifactNames {
  private readonly files = new Map<string, string>();
  private readonly dirs = new Map<string, string>();

  add(name: string): string | null {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const f = fold(dir);
      const file = this.files.get(f);
      if (file !== undefined)
        return `${JSON.stringify(name)} needs ${JSON.stringify(dir)} as a directory, but ${JSON.stringify(file)} is a file there`;
      const other = this.dirs.get(f);
      if (other !== undefined && other !== dir)
        return `directory ${JSON.stringify(dir)} of ${JSON.stringify(name)} is the same as ${JSON.stringify(other)} on a case-insensitive or Unicode-normalising file system`;
      this.dirs.set(f, dir);
    }
    const f = fold(name);
    const same = this.files.get(f);
    if (same !== undefined)
      return same === name
        ? `${JSON.stringify(name)} appears twice`
        : `${JSON.stringify(name)} and ${JSON.stringify(same)} are the same file on a case-insensitive or Unicode-normalising file system`;
    if (this.dirs.has(f))
      return `${JSON.stringify(name)} is a file, but an earlier name needs it as a directory`;
    this.files.set(f, name);
    return null;
  }
}
