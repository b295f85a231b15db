/**
 * Package URLs (https://github.com/package-url/purl-spec, PURL-SPECIFICATION.rst): the `uri` of
 * every dependency in the provenance, and the sort key of the Merkle leaves.
 */
import type { Ecosystem } from '../types.js';

/** Percent-encodes a purl segment: everything but ALPHA / DIGIT / `.-_~` (RFC 3986 unreserved). */
function enc(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const PURL_TYPE: Record<Ecosystem, string> = { npm: 'npm', cargo: 'cargo', go: 'golang' };

/**
 * The purl of a package version: `pkg:npm/%40scope/name@1.0.0`, `pkg:cargo/serde@1.0.0`,
 * `pkg:golang/golang.org/x/mod@v0.1.0`. `subpath` names a file inside the package (the Go
 * module's `go.mod`), `qualifiers` are added sorted by key.
 */
export function purl(
  ecosystem: Ecosystem,
  name: string,
  version: string,
  opts: { qualifiers?: Record<string, string>; subpath?: string } = {},
): string {
  // npm scopes and Go path prefixes are the purl namespace; each segment is encoded on its own.
  const segments = name.split('/').map(enc).join('/');
  let out = `pkg:${PURL_TYPE[ecosystem]}/${segments}@${enc(version)}`;
  const q = Object.entries(opts.qualifiers ?? {}).filter(([, v]) => v !== '');
  if (q.length > 0) {
    q.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    out += `?${q.map(([k, v]) => `${k}=${enc(v)}`).join('&')}`;
  }
  if (opts.subpath !== undefined) out += `#${opts.subpath.split('/').map(enc).join('/')}`;
  return out;
}
