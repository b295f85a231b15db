/**
 * Sources for the agent tests, made with the real tools: project directories, git repositories
 * (real git), archives (real `zip` and `tar`), and a static file server that serves a bare
 * repository over git's dumb HTTP protocol.
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Writes files (path -> content) under `dir`. */
export async function writeProject(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
};

/** Runs git in `cwd`; returns trimmed stdout. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: GIT_ENV });
  return stdout.trim();
}

/** Makes `dir` a git repository with everything committed; returns the commit id. */
export async function commitAll(dir: string, message = 'initial'): Promise<string> {
  await git(dir, 'init', '-q', '-b', 'main');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** `cd dir && zip -qr out .` (real zip, with `.git` when present). */
export async function zipDir(dir: string, out: string): Promise<void> {
  await run('zip', ['-qr', '-y', out, '.'], { cwd: dir });
}

/** `tar -czf out -C dir .` */
export async function tarGzDir(dir: string, out: string): Promise<void> {
  await run('tar', ['-czf', out, '-C', dir, '.']);
}

/** A bare clone of `repo` at `dest`, prepared for the dumb HTTP protocol. */
export async function bareForDumbHttp(repo: string, dest: string): Promise<void> {
  await run('git', ['clone', '-q', '--bare', repo, dest]);
  await git(dest, 'update-server-info');
}

/** A static file server over `root` on loopback (what git's dumb HTTP protocol needs). */
export async function serveStatic(
  root: string,
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const full = normalize(join(root, path));
    if (!full.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    stat(full).then(
      (st) => {
        if (!st.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, {
          'Content-Length': st.size,
          'Content-Type': 'application/octet-stream',
        });
        createReadStream(full).pipe(res);
      },
      () => void res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Runs curl with arguments; returns status, body and headers (`-i` not used: `-w` reports the code). */
export async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) };
}
