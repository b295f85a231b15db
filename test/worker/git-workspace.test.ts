/**
 * The `.git` the worker writes from a verified tree: real git reads it as a clean depth-1 work
 * tree at the commit (rev-parse, status, describe, log, fsck), in both object formats.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { extractTar } from '../../src/archive/node.js';
import type { HashedDir } from '../../src/provenance/node.js';
import { computeTreeId } from '../../src/provenance/node.js';
import { writeGitIndex, writeGitWorkspace } from '../../src/worker/git-workspace.js';
import { GIT_ENV, git, gitBytes, makeRepo, tempDir } from '../support/source/provenance-git.js';

/** 3 MiB that deflate cannot shrink much (a SHA-256 chain). */
const BIG = Buffer.concat(
  Array.from({ length: (3 * 1024 * 1024) / 32 }, (_, i) =>
    createHash('sha256').update(`big ${i}`).digest(),
  ),
);

/** Checks out the committed files of `repo` (without .git) into a fresh folder. */
function exportTree(repo: string): string {
  const out = tempDir('gitws-src-');
  execFileSync('sh', ['-c', `git archive --format=tar HEAD | tar -x -C "${out}"`], {
    cwd: repo,
    env: GIT_ENV,
  });
  return out;
}

describe.each(['sha1', 'sha256'] as const)('git workspace (%s)', (objectFormat) => {
  let repo: string;
  let src: string;
  beforeAll(() => {
    repo = makeRepo(
      {
        'README.md': '# hi\n',
        'src/a.js': 'console.log(1)\n',
        'src/deep/b.txt': 'b\n',
        // An empty blob: its pack entry is pieces of which one is empty (its CRC is in the index).
        'src/empty.txt': '',
        'bin/run': '#!/bin/sh\necho run\n',
        'same/x': 'dup\n',
        'same/y': 'dup\n',
        // Larger than a synchronous read and, deflated, than one write of the pack.
        'assets/big.bin': BIG,
        // Hundreds of objects share each fan-out folder: writers of one folder run at once.
        ...Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`many/f${i}.txt`, `${i}\n`])),
      },
      { objectFormat, origin: 'https://github.com/example/project' },
    );
    chmodSync(join(repo, 'bin/run'), 0o755);
    symlinkSync('src/a.js', join(repo, 'link'));
    git(repo, ['add', '-A']);
    git(repo, ['commit', '-q', '-m', 'second']);
    src = exportTree(repo);
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
    await rm(src, { recursive: true, force: true });
  });

  test('git sees a clean shallow work tree at the commit', async () => {
    const commit = git(repo, ['rev-parse', 'HEAD']);
    const tree = git(repo, ['rev-parse', 'HEAD^{tree}']);
    const commitObject = new Uint8Array(gitBytes(repo, ['cat-file', 'commit', 'HEAD']));
    const ws = await writeGitWorkspace({
      root: src,
      commit,
      commitObject,
      tree,
      objectFormat,
      repository: 'https://github.com/example/project',
    });
    await writeGitIndex(ws);
    expect(ws.record.head).toBe(commit);
    expect(ws.record.shallow).toBe(true);
    expect(ws.record.indexEntries).toBe(609);
    expect(git(src, ['rev-parse', 'HEAD'])).toBe(commit);
    expect(git(src, ['status', '--porcelain'])).toBe('');
    expect(git(src, ['describe', '--always', '--abbrev=12'])).toBe(commit.slice(0, 12));
    expect(git(src, ['log', '-1', '--format=%s'])).toBe('second');
    expect(git(src, ['show', 'HEAD:src/a.js'])).toBe('console.log(1)');
    expect(gitBytes(src, ['cat-file', 'blob', 'HEAD:assets/big.bin']).equals(BIG)).toBe(true);
    expect(git(src, ['ls-files', '-s', 'bin/run']).startsWith('100755')).toBe(true);
    expect(git(src, ['remote', 'get-url', 'origin'])).toBe('https://github.com/example/project');
    git(src, ['fsck', '--no-dangling']);
    // Every object is in the one pack, none loose.
    const counts = git(src, ['count-objects', '-v']);
    expect(counts).toMatch(/^count: 0$/m);
    expect(counts).toMatch(new RegExp(`^in-pack: ${ws.record.objects}$`, 'm'));
    expect(counts).toMatch(/^packs: 1$/m);
    // A change is seen as one.
    execFileSync('sh', ['-c', 'echo changed >> README.md'], { cwd: src });
    expect(git(src, ['status', '--porcelain'])).toBe('M README.md');
  });

  test('when the blob ids are known from the extraction, the files are not hashed again and git reads the same work tree', async () => {
    const again = exportTree(repo);
    try {
      const known = new Map<string, { oid: Uint8Array; executable: boolean; size: number }>();
      for (const line of git(repo, ['ls-files', '-s']).split('\n')) {
        const [meta, path] = line.split('\t') as [string, string];
        const [mode, oid] = meta.split(' ') as [string, string];
        if (mode === '120000') continue;
        known.set(join(again, path), {
          oid: Buffer.from(oid, 'hex'),
          executable: mode === '100755',
          size: lstatSync(join(again, path)).size,
        });
      }
      const ws = await writeGitWorkspace({
        root: again,
        known,
        commit: git(repo, ['rev-parse', 'HEAD']),
        commitObject: new Uint8Array(gitBytes(repo, ['cat-file', 'commit', 'HEAD'])),
        tree: git(repo, ['rev-parse', 'HEAD^{tree}']),
        objectFormat,
        repository: null,
      });
      await writeGitIndex(ws);
      expect(git(again, ['status', '--porcelain'])).toBe('');
      expect(git(again, ['show', 'HEAD:src/a.js'])).toBe('console.log(1)');
      expect(gitBytes(again, ['cat-file', 'blob', 'HEAD:assets/big.bin']).equals(BIG)).toBe(true);
      git(again, ['fsck', '--no-dangling']);
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });

  test('when written as the worker does (extracted bytes kept, the verified tree reused), git reads the same work tree, and the pack holds the bytes as extracted', async () => {
    const out = join(tempDir('gitws-x-'), 'src');
    try {
      const tar = execFileSync('git', ['archive', '--format=tar', 'HEAD'], {
        cwd: repo,
        env: GIT_ENV,
        maxBuffer: 64 * 1024 * 1024,
      });
      const extracted = await extractTar(
        (async function* () {
          yield new Uint8Array(tar);
        })(),
        out,
        { symlinks: 'inside', blobIds: objectFormat, keepBytes: 1024 * 1024 },
      );
      let hashed: HashedDir | undefined;
      const tree = await computeTreeId(out, objectFormat, {
        known: extracted.blobs!,
        onTree: (t) => (hashed = t),
      });
      expect(tree).toBe(git(repo, ['rev-parse', 'HEAD^{tree}']));
      // A kept file changed on disk after its check (same size): the pack still holds the bytes
      // that were checked, so git's own check of every object passes.
      writeFileSync(join(out, 'src/a.js'), 'console.log(2)\n');
      const ws = await writeGitWorkspace({
        root: out,
        known: extracted.blobs!,
        hashed: hashed!,
        commit: git(repo, ['rev-parse', 'HEAD']),
        commitObject: new Uint8Array(gitBytes(repo, ['cat-file', 'commit', 'HEAD'])),
        tree,
        objectFormat,
        repository: null,
      });
      await writeGitIndex(ws);
      git(out, ['fsck', '--no-dangling', '--strict']);
      expect(git(out, ['show', 'HEAD:src/a.js'])).toBe('console.log(1)');
      expect(gitBytes(out, ['cat-file', 'blob', 'HEAD:assets/big.bin']).equals(BIG)).toBe(true);
      expect(git(out, ['ls-files', '-s', 'bin/run']).startsWith('100755')).toBe(true);
      expect(ws.record.indexEntries).toBe(609);
    } finally {
      await rm(join(out, '..'), { recursive: true, force: true });
    }
  });

  test('files that do not hash to the verified tree are refused', async () => {
    const other = exportTree(repo);
    try {
      execFileSync('sh', ['-c', 'echo extra > extra.txt'], { cwd: other });
      await expect(
        writeGitWorkspace({
          root: other,
          commit: git(repo, ['rev-parse', 'HEAD']),
          commitObject: new Uint8Array(gitBytes(repo, ['cat-file', 'commit', 'HEAD'])),
          tree: git(repo, ['rev-parse', 'HEAD^{tree}']),
          objectFormat,
          repository: null,
        }),
      ).rejects.toThrow(/verified tree/);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
