/**
 * Normalises a git remote URL to `https://host/owner/repo`: scp-style (`git@host:owner/repo.git`),
 * `ssh://`, `git://`, `http(s)://` with or without credentials, port or `.git` suffix. Credentials
 * are always dropped (a token in a remote URL must never reach the provenance). Local paths and
 * `file://` URLs have no public address: null.
 */
export function normalizeRepositoryUrl(remote: string): string | null {
  const url = remote.trim();
  let host: string;
  let path: string;
  const scp = /^(?:[^@/\s]+@)?([A-Za-z0-9.-]+):(?!\/\/)(.+)$/.exec(url);
  const full =
    /^(?:ssh|git|https?|git\+ssh|ssh\+git):\/\/(?:[^@/\s]*@)?([^/:\s]+)(?::[0-9]*)?\/(.+)$/i.exec(
      url,
    );
  if (full !== null) {
    host = full[1]!;
    path = full[2]!;
  } else if (scp !== null && !url.includes('://')) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    return null;
  }
  path = path
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .replace(/^\/+/, '');
  if (path === '' || path.split('/').some((s) => s === '' || s === '.' || s === '..')) return null;
  return `https://${host.toLowerCase()}/${path}`;
}
