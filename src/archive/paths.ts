import { ArchiveError } from './errors.js';
import type { ArchiveLimits } from './limits.js';

const encoder = new TextEncoder();

/**
 * Normalises an archive member name to a relative POSIX path, refusing anything that could land
 * outside the destination: absolute paths, `..`, NUL, empty names. `./` prefixes and a trailing
 * `/` (directories) are dropped. Attacker-controlled input.
 */
export function safeRelativePath(name: string, limits: ArchiveLimits): string {
  if (name.includes('\0'))
    throw new ArchiveError(
      'ARCHIVE_UNSAFE_PATH',
      `member name contains NUL: ${JSON.stringify(name)}`,
    );
  if (name.startsWith('/')) {
    throw new ArchiveError(
      'ARCHIVE_UNSAFE_PATH',
      `absolute path in archive: ${JSON.stringify(name)}`,
      { path: name },
    );
  }
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new ArchiveError(
        'ARCHIVE_UNSAFE_PATH',
        `path escapes the archive root: ${JSON.stringify(name)}`,
        {
          path: name,
        },
      );
    }
    parts.push(part);
  }
  if (parts.length === 0)
    throw new ArchiveError('ARCHIVE_UNSAFE_PATH', `empty member name: ${JSON.stringify(name)}`);
  const rel = parts.join('/');
  if (encoder.encode(rel).length > limits.maxPathBytes) {
    throw new ArchiveError(
      'ARCHIVE_PATH_TOO_LONG',
      `path longer than ${limits.maxPathBytes} bytes: ${rel.slice(0, 80)}…`,
      {
        path: rel,
      },
    );
  }
  if (parts.length > limits.maxDepth) {
    throw new ArchiveError(
      'ARCHIVE_PATH_TOO_LONG',
      `path deeper than ${limits.maxDepth} levels: ${rel.slice(0, 80)}…`,
      {
        path: rel,
      },
    );
  }
  return rel;
}

/**
 * Resolves a symlink target relative to the link's own directory, lexically, and tells whether it
 * stays inside the root. Absolute targets never do.
 */
export function symlinkStaysInside(linkPath: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || target.includes('\0')) return false;
  const stack = linkPath.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (stack.length === 0) return false;
      stack.pop();
    } else stack.push(part);
  }
  return true;
}

export type TrackedKind = 'file' | 'directory' | 'symlink';

/**
 * Remembers every path an archive has produced (and their implied parent directories) so that a
 * later entry can neither repeat a path nor be written through a symlink or under a file.
 */
export class EntryTracker {
  private readonly seen = new Map<string, TrackedKind | 'implied'>();

  add(path: string, kind: TrackedKind): void {
    // Each ancestor is the path up to one of its slashes.
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
      const anc = path.slice(0, i);
      const k = this.seen.get(anc);
      if (k === 'symlink') {
        throw new ArchiveError(
          'ARCHIVE_UNSAFE_PATH',
          `${path} would be written through the symlink ${anc}`,
          { path },
        );
      }
      if (k === 'file')
        throw new ArchiveError('ARCHIVE_MALFORMED', `${path} is under the file ${anc}`, { path });
      if (k === undefined) this.seen.set(anc, 'implied');
    }
    const prev = this.seen.get(path);
    if (prev !== undefined && !(prev === 'implied' && kind === 'directory')) {
      throw new ArchiveError(
        'ARCHIVE_DUPLICATE_ENTRY',
        `${path} appears more than once in the archive`,
        { path },
      );
    }
    this.seen.set(path, kind);
  }
}
