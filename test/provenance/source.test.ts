import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTar, writeTar } from '../../src/archive/index.js';
import { collect } from '../../src/util/bytes.js';
import { extractTar, fileChunks, packDirectory } from '../../src/archive/node.js';
import {
  archiveGitTree,
  computeTreeId,
  gitTreeArchive,
  readGitCheckout,
  readGitSource,
  verifySourceTree,
  writeGitTreeArchive,
} from '../../src/provenance/node.js';
import type { HashedDir } from '../../src/provenance/node.js';
import {
  GIT_ENV,
  git,
  gitBytes,
  makeRepo,
  tempDir,
  writeFiles,
} from '../support/source/provenance-git.js';

/** A tree with every kind of entry git records, and the orderings that trip naive sorts. */
function richTree(root: string): void {
  writeFiles(root, {
    'README.md': '# hello\n',
    'empty.txt': '',
    'a-b': 'dash sorts before slash',
    'a/b/c.txt': 'nested',
    'a.b': 'dot',
    a0: 'zero sorts after slash',
    'dir/ünïcødé.txt': 'utf-8 name',
    'dir/日本.txt': 'cjk',
    'sp ace/x': 'space',
    'big.bin': Buffer.alloc(9 * 1024 * 1024 + 17, 7),
  });
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'run.sh'), 0o755);
  writeFileSync(join(root, 'owner-x-only'), 'x');
  chmodSync(join(root, 'owner-x-only'), 0o700);
  writeFileSync(join(root, 'group-x-only'), 'x');
  chmodSync(join(root, 'group-x-only'), 0o651);
  symlinkSync('a/b/c.txt', join(root, 'link-in'));
  symlinkSync('dir', join(root, 'link-dir'));
  mkdirSync(join(root, 'empty-dir/deeper'), { recursive: true });
}

function gitWriteTree(dir: string, format: 'sha1' | 'sha256'): string {
  git(dir, ['init', '-q', `--object-format=${format}`]);
  git(dir, ['add', '-A']);
  return git(dir, ['write-tree']);
}

describe('computeTreeId', () => {
  it.each(['sha1', 'sha256'] as const)(
    'when given a %s tree with modes, symlinks, empty files, nested and non-ASCII names, it equals git write-tree',
    async (format) => {
      const dir = tempDir();
      richTree(dir);
      const expected = gitWriteTree(dir, format);
      // .git exists now: it must be left out, as git leaves it out.
      expect(await computeTreeId(dir, format)).toBe(expected);
      expect(await computeTreeId(dir, format, { concurrency: 1 })).toBe(expected);
    },
  );

  it('when the extraction keeps the bytes it wrote, it keeps them whole up to its budget and no further', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`f${i}.txt`] = 'x'.repeat(100 + i);
    const dir = tempDir();
    writeFiles(dir, files);
    const out = join(tempDir(), 'x');
    const tar = writeTar(packDirectory(dir), { mtime: 0 });
    const r = await extractTar(tar, out, { blobIds: 'sha1', keepBytes: 550 });
    const kept = [...r.blobs!].filter(([, b]) => b.data !== undefined);
    // f0..f4 (100..104 bytes: 510 in all) fit; f5 (105) would pass 550.
    expect(kept.map(([path]) => path.slice(out.length + 1)).sort()).toEqual([
      'f0.txt',
      'f1.txt',
      'f2.txt',
      'f3.txt',
      'f4.txt',
    ]);
    for (const [path, b] of kept)
      expect(Buffer.from(b.data!).equals(readFileSync(path))).toBe(true);
  });

  it('when the tree is hashed, onTree is given every file with its mode and blob id, and the folders', async () => {
    const dir = tempDir();
    richTree(dir);
    let root: HashedDir | undefined;
    const id = await computeTreeId(dir, 'sha1', { onTree: (t) => (root = t) });
    expect(id).toBe(gitWriteTree(dir, 'sha1'));
    const listed: string[] = [];
    const walk = (node: HashedDir, prefix: string): void => {
      for (const e of node.entries)
        listed.push(
          `${e.mode} ${Buffer.from(e.oid).toString('hex')} ${prefix}${Buffer.from(e.name).toString()}`,
        );
      for (const sub of node.subdirs) walk(sub.node, `${prefix}${sub.name.toString()}/`);
    };
    walk(root!, '');
    const fromGit = execFileSync('git', ['ls-files', '-s', '-z'], { cwd: dir, env: GIT_ENV })
      .toString()
      .split('\0')
      .filter((l) => l !== '')
      .map((l) => l.replace(/ 0\t/, ' '));
    expect(listed.sort()).toEqual(fromGit.sort());
  });

  it.each(['sha1', 'sha256'] as const)(
    'when the %s blob ids come from the extraction that wrote the files, the tree id is the same as read from disk',
    async (format) => {
      const dir = tempDir();
      richTree(dir);
      const out = join(tempDir(), 'x');
      const tar = writeTar(packDirectory(dir, { exclude: (p) => p === '.git' }), { mtime: 0 });
      const r = await extractTar(tar, out, { symlinks: 'inside', blobIds: format });
      // (The copy differs from `dir` where a mode is group-executable only: packing keeps any x.)
      const expected = gitWriteTree(out, format);
      expect(r.blobs?.size).toBe(r.files);
      expect(await computeTreeId(out, format, { known: r.blobs! })).toBe(expected);
      // Files the extraction did not write are read from disk.
      writeFileSync(join(out, 'added-later.txt'), 'later\n');
      const known = new Map(r.blobs);
      known.delete([...known.keys()][0]!);
      expect(await computeTreeId(out, format, { known })).toBe(await computeTreeId(out, format));
      expect(await computeTreeId(out, format)).not.toBe(expected);
      // A listed file is not read again: its given id is the one in the tree.
      const [first, blob] = [...r.blobs!][0]!;
      const wrong = new Map(r.blobs).set(first, { ...blob, oid: new Uint8Array(blob.oid.length) });
      expect(await computeTreeId(out, format, { known: wrong })).not.toBe(
        await computeTreeId(out, format, { known: r.blobs! }),
      );
    },
  );

  it('when a name is not valid UTF-8, it hashes the raw bytes as git does', async () => {
    const dir = tempDir();
    writeFileSync(
      Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0x6e, 0xff, 0xfe, 0x2e])]),
      'latin',
    );
    writeFileSync(join(dir, 'n'), 'plain');
    expect(await computeTreeId(dir, 'sha1')).toBe(gitWriteTree(dir, 'sha1'));
  });

  it('when the directory is empty, it gives the empty tree', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'only/empty'), { recursive: true });
    expect(await computeTreeId(dir, 'sha1')).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });

  it('when a file changes, the tree id changes', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'x/y': '1' });
    const before = await computeTreeId(dir, 'sha1');
    writeFiles(dir, { 'x/y': '2' });
    expect(await computeTreeId(dir, 'sha1')).not.toBe(before);
    chmodSync(join(dir, 'x/y'), 0o755);
    const exec = await computeTreeId(dir, 'sha1');
    expect(exec).toBe(gitWriteTree(dir, 'sha1'));
  });

  it('when an exclude filter is given, the excluded paths are left out', async () => {
    const dir = tempDir();
    writeFiles(dir, { keep: 'k', 'skip/x': 's' });
    const withSkip = await computeTreeId(dir, 'sha1');
    const without = await computeTreeId(dir, 'sha1', { exclude: (p) => p === 'skip' });
    rmSync(join(dir, 'skip'), { recursive: true });
    expect(without).toBe(await computeTreeId(dir, 'sha1'));
    expect(without).not.toBe(withSkip);
  });

  it('when the tree holds a FIFO, it refuses it with SOURCE_UNSUPPORTED_ENTRY', async () => {
    const dir = tempDir();
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    await expect(computeTreeId(dir, 'sha1')).rejects.toHaveCode('SOURCE_UNSUPPORTED_ENTRY');
  });
});

describe('readGitSource', () => {
  it('when reading a clean checkout, it returns commit, tree, format, raw commit object and the normalised origin', async () => {
    const dir = makeRepo(
      { 'src/main.rs': 'fn main() {}\n' },
      { origin: 'git@github.com:Owner/Repo.git' },
    );
    const s = await readGitSource(dir, { env: GIT_ENV });
    expect(s.commit).toBe(git(dir, ['rev-parse', 'HEAD']));
    expect(s.tree).toBe(git(dir, ['rev-parse', 'HEAD^{tree}']));
    expect(s.objectFormat).toBe('sha1');
    expect(s.dirty).toBe(false);
    expect(s.workdir).toBe('.');
    expect(s.repository).toBe('https://github.com/Owner/Repo');
    expect(Buffer.from(s.commitObject!)).toEqual(gitBytes(dir, ['cat-file', 'commit', 'HEAD']));
  });

  it('when reading a subdirectory of a SHA-256 repository, it reads the whole repository and reports the work directory', async () => {
    const dir = makeRepo(
      { 'examples/app/build.json': '{}', 'lib/x': 'x' },
      { objectFormat: 'sha256' },
    );
    const s = await readGitSource(join(dir, 'examples/app'), {
      env: GIT_ENV,
      repository: 'https://example.com/o/r.git',
    });
    expect(s.objectFormat).toBe('sha256');
    expect(s.commit).toHaveLength(64);
    expect(s.tree).toBe(git(dir, ['rev-parse', 'HEAD^{tree}']));
    expect(s.workdir).toBe('examples/app');
    expect(s.repository).toBe('https://example.com/o/r');
  });

  it('when the work tree has changes, it refuses with SOURCE_DIRTY naming them, or reports dirty when allowed', async () => {
    const dir = makeRepo({ 'a.txt': 'a', '.gitignore': 'ignored.log\n' });
    writeFiles(dir, { 'ignored.log': 'not a change' });
    expect((await readGitSource(dir, { env: GIT_ENV })).dirty).toBe(false);
    writeFiles(dir, { 'new-file.txt': 'untracked' });
    await expect(readGitSource(dir, { env: GIT_ENV })).rejects.toThrow(/new-file\.txt/);
    await expect(readGitSource(dir, { env: GIT_ENV })).rejects.toHaveCode('SOURCE_DIRTY');
    const s = await readGitSource(dir, { env: GIT_ENV, allowDirty: true });
    expect(s.dirty).toBe(true);
    expect(s.commit).toBe(git(dir, ['rev-parse', 'HEAD']));
    rmSync(join(dir, 'new-file.txt'));
    writeFiles(dir, { 'a.txt': 'modified' });
    await expect(readGitSource(dir, { env: GIT_ENV })).rejects.toHaveCode('SOURCE_DIRTY');
  });

  it('when the directory is not a git work tree, or has no commit, it refuses with SOURCE_NOT_GIT', async () => {
    await expect(
      readGitSource(tempDir(), { env: { ...GIT_ENV, GIT_CEILING_DIRECTORIES: '/' } }),
    ).rejects.toHaveCode('SOURCE_NOT_GIT');
    const empty = tempDir();
    git(empty, ['init', '-q']);
    await expect(readGitSource(empty, { env: GIT_ENV })).rejects.toHaveCode('SOURCE_NOT_GIT');
    await expect(readGitSource(empty, { env: GIT_ENV })).rejects.toThrow(/no commit yet/);
    // Inside .git there is a repository but no work tree.
    const repo = makeRepo({ 'a.txt': 'a' });
    await expect(readGitSource(join(repo, '.git'), { env: GIT_ENV })).rejects.toHaveCode(
      'SOURCE_NOT_GIT',
    );
  });

  it('when read with its listing, the listing is git ls-tree -l’s, and an archive made from it is byte-identical', async () => {
    const dir = tempDir();
    richTree(dir);
    const repo = makeRepo({}, { dir });
    const { source, listing } = await readGitCheckout(repo, { env: GIT_ENV });
    expect(source).toEqual(await readGitSource(repo, { env: GIT_ENV }));
    expect(
      listing.equals(gitBytes(repo, ['ls-tree', '-r', '-l', '-z', '--full-tree', 'HEAD'])),
    ).toBe(true);
    const out = tempDir();
    await writeGitTreeArchive(repo, source.commit!, join(out, 'read.tar'), { env: GIT_ENV });
    await writeGitTreeArchive(repo, source.commit!, join(out, 'given.tar'), {
      env: GIT_ENV,
      listing,
    });
    expect(readFileSync(join(out, 'given.tar')).equals(readFileSync(join(out, 'read.tar')))).toBe(
      true,
    );
  });

  it('when the tree holds a submodule, it refuses with SOURCE_SUBMODULE naming it', async () => {
    const dir = makeRepo({ 'a.txt': 'a' });
    const head = git(dir, ['rev-parse', 'HEAD']);
    git(dir, ['update-index', '--add', '--cacheinfo', `160000,${head},vendor/lib`]);
    git(dir, ['commit', '-q', '-m', 'add submodule']);
    await expect(readGitSource(dir, { env: GIT_ENV, allowDirty: true })).rejects.toHaveCode(
      'SOURCE_SUBMODULE',
      'vendor/lib',
    );
  });

  it('when git itself cannot run, it refuses with GIT_FAILED', async () => {
    await expect(readGitSource(tempDir(), { git: '/nonexistent/git' })).rejects.toHaveCode(
      'GIT_FAILED',
    );
  });
});

describe('archiveGitTree', () => {
  let repo: string;
  let commit: string;
  let tree: string;
  beforeAll(() => {
    const dir = tempDir();
    richTree(dir);
    repo = makeRepo({}, { dir });
    commit = git(repo, ['rev-parse', 'HEAD']);
    tree = git(repo, ['rev-parse', 'HEAD^{tree}']);
  });

  it('when archiving the same commit from two clones with different file times and umask, it gives the same bytes', async () => {
    const a = await collect(archiveGitTree(repo, commit, { env: GIT_ENV }));
    const clone = tempDir();
    execFileSync('sh', ['-c', `umask 077 && git clone -q "${repo}" "${clone}/c"`], {
      env: GIT_ENV,
    });
    const b = await collect(archiveGitTree(join(clone, 'c'), commit, { env: GIT_ENV }));
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
  });

  it('when files are read from the work tree, the archive is byte-identical to the one from git', async () => {
    const out = tempDir();
    await writeGitTreeArchive(repo, commit, join(out, 'git.tar'), { env: GIT_ENV });
    await writeGitTreeArchive(repo, commit, join(out, 'worktree.tar'), {
      env: GIT_ENV,
      worktree: repo,
      // Every file is unchanged: git is not asked for any (this one cannot run).
      git: '/nonexistent/git',
      listing: gitBytes(repo, ['ls-tree', '-r', '-l', '-z', '--full-tree', commit]),
    });
    expect(readFileSync(join(out, 'worktree.tar')).equals(readFileSync(join(out, 'git.tar')))).toBe(
      true,
    );
  });

  it('when a work-tree file is not the committed blob, the committed bytes are archived', async () => {
    const clone = join(tempDir(), 'c');
    execFileSync('git', ['clone', '-q', repo, clone], { env: GIT_ENV });
    // Changed content, same size; a link where a file was; a file where a link was; one gone;
    // a folder where a file was.
    writeFileSync(join(clone, 'README.md'), '# HELLO\n');
    rmSync(join(clone, 'a-b'));
    symlinkSync('README.md', join(clone, 'a-b'));
    rmSync(join(clone, 'link-in'));
    writeFileSync(join(clone, 'link-in'), 'a/b/c.txt');
    rmSync(join(clone, 'a.b'));
    rmSync(join(clone, 'a0'));
    mkdirSync(join(clone, 'a0'));
    // A FIFO where a file was (opening it must not wait for a writer); a file grown past its
    // blob with the same first bytes.
    rmSync(join(clone, 'dir/日本.txt'));
    execFileSync('mkfifo', [join(clone, 'dir/日本.txt')]);
    writeFileSync(join(clone, 'sp ace/x'), 'space, and more');
    const out = tempDir();
    await writeGitTreeArchive(repo, commit, join(out, 'git.tar'), { env: GIT_ENV });
    await writeGitTreeArchive(clone, commit, join(out, 'worktree.tar'), {
      env: GIT_ENV,
      worktree: clone,
    });
    expect(readFileSync(join(out, 'worktree.tar')).equals(readFileSync(join(out, 'git.tar')))).toBe(
      true,
    );
  });

  it('when git answers for a late file and the archive is read slowly, the committed bytes still arrive', async () => {
    // Files unchanged in the work tree come first and are archived from it; git, asked for the
    // last one only, answers and exits long before that answer is read.
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++) files[`f${String(i).padStart(2, '0')}.txt`] = `file ${i}\n`;
    const dir = makeRepo({ ...files, 'z.txt': 'committed\n' });
    const head = git(dir, ['rev-parse', 'HEAD']);
    writeFileSync(join(dir, 'z.txt'), 'changed in the work tree\n');
    const chunks: Uint8Array[] = [];
    for await (const c of archiveGitTree(dir, head, { env: GIT_ENV, worktree: dir })) {
      if (chunks.length === 0) await new Promise((r) => setTimeout(r, 500));
      chunks.push(c);
    }
    const entries = new Map<string, string>();
    for await (const e of readTar(
      (async function* () {
        yield* chunks;
      })(),
    ))
      if (e.type === 'file') entries.set(e.path, Buffer.from(await collect(e.body)).toString());
    expect(entries.get('z.txt')).toBe('committed\n');
    expect(entries.get('f19.txt')).toBe('file 19\n');
  });

  it('when listed first, its announced length is the stream’s, and each opening gives the same bytes', async () => {
    const expected = Buffer.from(await collect(archiveGitTree(repo, commit, { env: GIT_ENV })));
    for (const worktree of [undefined, repo]) {
      const a = await gitTreeArchive(repo, commit, {
        env: GIT_ENV,
        ...(worktree !== undefined ? { worktree } : {}),
      });
      expect(a.size).toBe(expected.length);
      for (let i = 0; i < 2; i++)
        expect(Buffer.from(await collect(a.open())).equals(expected)).toBe(true);
    }
  });

  it('when many files span several groups, some changed in the work tree, the stream is git’s archive', async () => {
    // 700 files (groups of 256) and one of 9 MiB (a group by bytes), every seventh changed: some
    // to another size (skipped by their size), some to the same size (skipped by their blob id).
    const files: Record<string, string | Buffer> = { 'm/big.bin': Buffer.alloc(9 << 20, 3) };
    for (let i = 0; i < 700; i++) files[`m/f${String(i).padStart(3, '0')}.txt`] = `file ${i}\n`;
    const dir = makeRepo(files);
    const head = git(dir, ['rev-parse', 'HEAD']);
    const clone = join(tempDir(), 'c');
    execFileSync('git', ['clone', '-q', dir, clone], { env: GIT_ENV });
    for (let i = 0; i < 700; i += 7) {
      const f = join(clone, `m/f${String(i).padStart(3, '0')}.txt`);
      writeFileSync(f, i % 2 === 0 ? `FILE ${i}\n` : `changed ${i}\r\n`);
    }
    writeFileSync(join(clone, 'm/big.bin'), Buffer.alloc(9 << 20, 4));
    const expected = Buffer.from(await collect(archiveGitTree(dir, head, { env: GIT_ENV })));
    const a = await gitTreeArchive(clone, head, { env: GIT_ENV, worktree: clone });
    expect(a.size).toBe(expected.length);
    expect(Buffer.from(await collect(a.open())).equals(expected)).toBe(true);
  });

  it('when given a listing without sizes, it lists the tree again with them', async () => {
    const a = await gitTreeArchive(repo, commit, {
      env: GIT_ENV,
      listing: gitBytes(repo, ['ls-tree', '-r', '-z', '--full-tree', commit]),
    });
    const expected = await collect(archiveGitTree(repo, commit, { env: GIT_ENV }));
    expect(a.size).toBe(expected.length);
  });

  it('when the tree cannot be archived, the refusal comes before the stream is opened', async () => {
    const out = makeRepo({ a: 'a' });
    symlinkSync('../../etc/passwd', join(out, 'escape'));
    git(out, ['add', '-A']);
    git(out, ['commit', '-q', '-m', 'link']);
    // The link is read from git (not the work tree): the refusal still comes from the listing.
    rmSync(join(out, 'escape'));
    await expect(gitTreeArchive(out, 'HEAD', { env: GIT_ENV, worktree: out })).rejects.toHaveCode(
      'SOURCE_UNSUPPORTED_ENTRY',
      'escape',
    );
    const sub = makeRepo({ a: 'a' });
    git(sub, [
      'update-index',
      '--add',
      '--cacheinfo',
      `160000,${git(sub, ['rev-parse', 'HEAD'])},lib`,
    ]);
    git(sub, ['commit', '-q', '-m', 'submodule']);
    await expect(gitTreeArchive(sub, 'HEAD', { env: GIT_ENV })).rejects.toHaveCode(
      'SOURCE_SUBMODULE',
    );
  });

  it('when archived, it lists files sorted bytewise with normalised modes, symlinks and mtime 0', async () => {
    const entries: {
      path: string;
      type: string;
      mode: number;
      mtime: number;
      linkTarget?: string;
    }[] = [];
    for await (const e of readTar(archiveGitTree(repo, commit, { env: GIT_ENV }), {
      symlinks: 'inside',
    })) {
      entries.push({
        path: e.path,
        type: e.type,
        mode: e.mode,
        mtime: e.mtime,
        ...(e.linkTarget ? { linkTarget: e.linkTarget } : {}),
      });
    }
    const paths = entries.map((e) => e.path);
    expect(paths).toEqual(
      [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
    expect(paths.slice(0, 4)).toEqual(['README.md', 'a-b', 'a.b', 'a/b/c.txt']);
    expect(entries.find((e) => e.path === 'run.sh')!.mode).toBe(0o755);
    expect(entries.find((e) => e.path === 'group-x-only')!.mode).toBe(0o644);
    expect(entries.find((e) => e.path === 'link-in')).toMatchObject({
      type: 'symlink',
      linkTarget: 'a/b/c.txt',
    });
    expect(entries.every((e) => e.mtime === 0)).toBe(true);
    expect(paths.some((p) => p.startsWith('empty-dir'))).toBe(false);
  });

  it('when the archive is unpacked with the safe extractor, the files hash to the commit’s tree and verifySourceTree accepts them', async () => {
    const file = join(tempDir(), 'src.tar');
    const w = await writeGitTreeArchive(repo, commit, file, { env: GIT_ENV });
    expect(w.bytes).toBe(readFileSync(file).length);
    const out = join(tempDir(), 'src');
    await extractTar(fileChunks(file), out, { symlinks: 'inside' });
    expect(await computeTreeId(out, 'sha1')).toBe(tree);
    const raw = gitBytes(repo, ['cat-file', 'commit', commit]);
    const id = await verifySourceTree(out, {
      commit,
      tree,
      objectFormat: 'sha1',
      commitObject: raw,
      repository: 'https://x/y/z',
    });
    expect(id).toEqual({
      commit,
      tree,
      objectFormat: 'sha1',
      dirty: false,
      repository: 'https://x/y/z',
    });

    // A changed file, a wrong commit object, or a commit naming another tree is refused.
    writeFileSync(join(out, 'README.md'), '# changed\n');
    await expect(
      verifySourceTree(out, { commit, tree, objectFormat: 'sha1', commitObject: raw }),
    ).rejects.toHaveCode('SOURCE_TREE_MISMATCH');
    const other = Buffer.from(raw.toString('latin1').replace('initial', 'forged'), 'latin1');
    await expect(
      verifySourceTree(out, { commit, tree, objectFormat: 'sha1', commitObject: other }),
    ).rejects.toHaveCode('SOURCE_COMMIT_MISMATCH');
    await expect(
      verifySourceTree(out, {
        commit,
        tree: 'f'.repeat(40),
        objectFormat: 'sha1',
        commitObject: raw,
      }),
    ).rejects.toHaveCode('SOURCE_COMMIT_MISMATCH');
    await expect(
      verifySourceTree(out, { commit, tree, objectFormat: 'sha1', commitObject: null }),
    ).rejects.toHaveCode('SOURCE_COMMIT_MISMATCH');
    await expect(
      verifySourceTree(out, {
        commit,
        tree,
        objectFormat: 'sha1',
        commitObject: new TextEncoder().encode('garbage'),
      }),
    ).rejects.toHaveCode('SOURCE_COMMIT_MISMATCH');
  });

  it('when the tree holds a symlink out of the tree or a non-UTF-8 name, it refuses with SOURCE_UNSUPPORTED_ENTRY', async () => {
    const out = makeRepo({ a: 'a' });
    symlinkSync('../../etc/passwd', join(out, 'escape'));
    git(out, ['add', '-A']);
    git(out, ['commit', '-q', '-m', 'link']);
    await expect(collect(archiveGitTree(out, 'HEAD', { env: GIT_ENV }))).rejects.toHaveCode(
      'SOURCE_UNSUPPORTED_ENTRY',
    );

    const bytes = makeRepo({ a: 'a' });
    writeFileSync(Buffer.concat([Buffer.from(bytes + '/'), Buffer.from([0xff, 0x41])]), 'x');
    git(bytes, ['add', '-A']);
    git(bytes, ['commit', '-q', '-m', 'latin1 name']);
    await expect(collect(archiveGitTree(bytes, 'HEAD', { env: GIT_ENV }))).rejects.toHaveCode(
      'SOURCE_UNSUPPORTED_ENTRY',
    );
  });
});
