/**
 * Annotated tag objects without git (git's Documentation/technical/signature-format.txt, "Tags"):
 * `object`, `type`, `tag`, optional `tagger` headers, a blank line, the message, and for a
 * signed tag the signature appended to the message. Pure: runs in the worker on untrusted bytes
 * and in a browser verifier. Our own parser because the bytes are hostile and small: strict,
 * bounded, never a raw exception.
 */
import { provenanceError } from '../errors.js';
import { hashObject, parseIdentity } from './git-object.js';
import type { CommitIdentity } from './git-object.js';
import { toHex } from '../../util/encoding.js';
import type { ObjectFormat } from '../types.js';

/** A tag object is small; anything larger is refused before parsing. */
export const MAX_TAG_OBJECT_BYTES = 256 * 1024;

/** A parsed annotated tag object. */
export interface TagObject {
  /** Id of the tagged object. */
  object: string;
  /** Type of the tagged object (`commit` for the tags tee-compile builds). */
  type: string;
  /** The tag's name (what `refs/tags/<name>` names). */
  tag: string;
  tagger: CommitIdentity | null;
  /** The message, a trailing signature included (git-signed.ts splits it off). */
  message: string;
  objectFormat: ObjectFormat;
}

function malformed(what: string): never {
  throw provenanceError(
    'TAG_MALFORMED',
    `tag object is malformed: ${what}; send the bytes printed by \`git cat-file tag <name>\``,
  );
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Tag names as git accepts them in a ref (the parts that matter here: no space, no control). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const TAG_NAME_RE = /^[^\x00-\x20\x7f~^:?*[\\]{1,255}$/;

/** Parses a raw tag object strictly. Throws TAG_MALFORMED. */
export function parseTagObject(raw: Uint8Array): TagObject {
  if (raw.length > MAX_TAG_OBJECT_BYTES) malformed(`larger than ${MAX_TAG_OBJECT_BYTES} bytes`);
  let text: string;
  try {
    text = decoder.decode(raw);
  } catch {
    malformed('not valid UTF-8');
  }
  if (text.includes('\0')) malformed('NUL byte');
  const sep = text.indexOf('\n\n');
  const head =
    sep < 0
      ? text.endsWith('\n')
        ? text.slice(0, -1)
        : malformed('no blank line')
      : text.slice(0, sep);
  const message = sep < 0 ? '' : text.slice(sep + 2);
  const lines = head.split('\n');
  const header = (i: number, key: string): string => {
    const line = lines[i];
    if (line === undefined || !line.startsWith(`${key} `))
      malformed(`line ${i + 1} must be \`${key}\``);
    return line.slice(key.length + 1);
  };
  const object = header(0, 'object');
  let objectFormat: ObjectFormat;
  if (/^[0-9a-f]{40}$/.test(object)) objectFormat = 'sha1';
  else if (/^[0-9a-f]{64}$/.test(object)) objectFormat = 'sha256';
  else malformed('object id is not a lower-case SHA-1 or SHA-256 hex id');
  const type = header(1, 'type');
  if (!['commit', 'tree', 'blob', 'tag'].includes(type))
    malformed(`unknown type ${JSON.stringify(type.slice(0, 20))}`);
  const tag = header(2, 'tag');
  if (!TAG_NAME_RE.test(tag)) malformed('tag name is not a valid ref name');
  let tagger: CommitIdentity | null = null;
  if (lines.length > 3) {
    tagger = parseIdentity(header(3, 'tagger'));
    if (tagger === null) malformed('bad tagger line');
  }
  if (lines.length > 4) malformed('unexpected header after `tagger`');
  return { object, type, tag, tagger, message, objectFormat };
}

/** Tag id (hex) of a raw tag object, as git computes it. */
export function computeTagId(raw: Uint8Array, format: ObjectFormat): string {
  return toHex(hashObject('tag', raw, format));
}
