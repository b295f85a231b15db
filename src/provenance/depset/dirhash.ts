/**
 * Go's dirhash Hash1 (golang.org/x/mod/sumdb/dirhash): SHA-256 over the lines
 * `<sha256 hex of file>  <name>\n` of every file, names sorted bytewise, in base64 with `h1:`.
 * A module zip hashes its entry names (`<module>@<version>/<file>`); a go.mod hashes as the single
 * file `go.mod` (Go Modules Reference, "go.sum files").
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { compareUtf8 } from '../../util/encoding.js';
import { sha256File } from '../../util/node.js';

/** Hash1 of (name, sha256 hex) pairs. */
export function hash1(files: readonly { name: string; sha256: string }[]): Buffer {
  const sorted = [...files].sort((a, b) => compareUtf8(a.name, b.name));
  const h = createHash('sha256');
  for (const f of sorted) {
    if (f.name.includes('\n'))
      throw new TypeError(`dirhash: file name with a newline: ${JSON.stringify(f.name)}`);
    h.update(`${f.sha256}  ${f.name}\n`);
  }
  return h.digest();
}

/** Hash1 of a go.mod file's bytes (the `/go.mod h1:` of go.sum). */
export function hash1GoMod(content: Uint8Array): Buffer {
  return hash1([{ name: 'go.mod', sha256: createHash('sha256').update(content).digest('hex') }]);
}

/** Every regular file under `root` with its SHA-256, names relative and `/`-separated. */
export async function hashFilesUnder(root: string): Promise<{ name: string; sha256: string }[]> {
  const out: { name: string; sha256: string }[] = [];
  async function walk(rel: string): Promise<void> {
    for (const e of await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push({ name: r, sha256: await sha256File(join(root, r)) });
      else throw new TypeError(`unexpected entry ${r}`);
    }
  }
  await walk('');
  return out;
}
