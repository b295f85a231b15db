/**
 * The client's side of a build before any enclave exists: read the committed source of the
 * repository holding `dir`, read and validate build.json, archive the committed tree, and fetch
 * the locked dependencies into a dependency set. None of this is trusted by the worker, which
 * re-checks everything; it only has to be right for the build to be accepted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, rename, rm, stat, utimes } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileChunks, packDirectory, writeTarFile } from '../archive/node.js';
import type { BuildConfig, GitSource, LockedDependency } from '../provenance/index.js';
import { canonicalJson, parseBuildConfigText, ProvenanceError } from '../provenance/index.js';
import {
  computeTreeId,
  enclaveNpmPlatform,
  fetchDependencySet,
  readGitCheckout,
  readLockedDependencies,
  gitTreeArchive,
  readLockfiles,
} from '../provenance/node.js';
import type { TreeArchive } from '../provenance/node.js';
import { readBoundedFile } from '../util/node.js';

/** Largest build.json read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Inputs ready to send. */
export interface PreparedInputs {
  source: GitSource;
  /** Directory of build.json relative to the repository root (`.` at the root). */
  workdir: string;
  config: BuildConfig;
  /** The exact bytes of build.json sent (the worker parses them itself). */
  configBytes: Uint8Array;
  configFile: string;
  dependencies: LockedDependency[];
  /**
   * The committed tree as a tar stream of known length. From a git checkout it is made as it is
   * read (each `open()` reads the files again); a files source is a temporary file.
   */
  sourceArchive: TreeArchive;
  /** The dependency set as a tar file, or null when the project has no locked dependency. */
  depsArchive: { file: string; size: number } | null;
  /** Removes the temporary files. */
  cleanup(): Promise<void>;
}

export interface PrepareOptions {
  /** Project directory: where build.json is, anywhere inside a git work tree. */
  dir: string;
  /** build.json to use instead of `<dir>/build.json`. */
  configFile?: string;
  /** build.json already read with `readProjectConfig` (then `configFile` is not read again). */
  project?: ProjectConfig;
  /** Build the committed tree even when the work tree has changes. */
  allowDirty?: boolean;
  /** Where dependency sets are cached between builds (default `~/.cache/tee-compile`). */
  cacheDir?: string;
  /** Environment of git and the fetching tools. */
  env?: NodeJS.ProcessEnv;
  /**
   * `git` (default): the committed tree of the repository holding `dir`, commit bound.
   * `files`: the files under `sourceRoot` as they are, without git: only the tree is bound
   * (commit null), e.g. an uploaded archive without `.git`.
   */
  sourceKind?: 'git' | 'files';
  /** For `files`: the root of the source (default `dir`); `dir` must be inside it. */
  sourceRoot?: string;
  /**
   * A dependency set prepared elsewhere (a tar file), sent as is instead of fetching here: the
   * worker checks every file of it against the lockfile either way.
   */
  dependencySet?: string;
  /** Repository URL to record, overriding the one git reports (or the absence of one). */
  repository?: string;
}

/** The default cache directory: `$XDG_CACHE_HOME/tee-compile` or `~/.cache/tee-compile`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'tee-compile');
}

/** build.json as read and validated by the client (the worker parses the same bytes again). */
export interface ProjectConfig {
  config: BuildConfig;
  bytes: Uint8Array;
  file: string;
}

/** Reads and validates the project's build.json (`configFile`, default `<dir>/build.json`). */
export async function readProjectConfig(dir: string, configFile?: string): Promise<ProjectConfig> {
  const file = configFile ?? join(dir, 'build.json');
  return { ...(await readConfig(file)), file };
}

async function readConfig(file: string): Promise<{ config: BuildConfig; bytes: Uint8Array }> {
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(file, MAX_CONFIG_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ProvenanceError(
        'CONFIG_MISSING',
        `${file} does not exist; create a build.json (see docs/build.md)`,
        { cause: e },
      );
    // readBoundedFile's own refusals ("not a regular file", "larger than N bytes").
    if (code === undefined)
      throw new ProvenanceError('CONFIG_INVALID', `${file} is ${(e as Error).message}`, {
        cause: e,
      });
    throw e;
  }
  return {
    config: parseBuildConfigText(bytes.toString('utf8'), 'build.json'),
    bytes: new Uint8Array(bytes),
  };
}

/** Directory of the dependency sets under a cache directory. */
export const DEPSET_CACHE_DIR = 'depsets';
/** Prefix of a build's hold on a cached set (a hard link, removed when the build ends). */
export const DEPSET_HOLD_PREFIX = '.hold-';
/** Prefix of the directory a set is fetched into before it enters the cache. */
export const DEPSET_FETCH_PREFIX = '.fetch-';

/** True for the name of a cache entry: `<sha256>.tar` (a set) or `<sha256>.empty` (no dependency). */
export function isDepsetEntry(name: string): boolean {
  return /^[0-9a-f]{64}\.(?:tar|empty)$/.test(name);
}

/** A dependency set held for one build. */
interface HeldSet {
  file: string;
  size: number;
  /** Ends the hold (the cache entry may then be evicted). */
  release(): Promise<void>;
}

/** Error codes of a file system that has no hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EXDEV']);

/**
 * A new hard link to `file` in `sets` for one build; null when the file system has no hard links.
 * Throws ENOENT when `file` is gone.
 */
async function linkHold(file: string, sets: string): Promise<string | null> {
  const hold = join(sets, `${DEPSET_HOLD_PREFIX}${randomBytes(8).toString('hex')}.tar`);
  try {
    await link(file, hold);
    return hold;
  } catch (e) {
    if (NO_HARD_LINKS.has((e as NodeJS.ErrnoException).code ?? '')) return null;
    throw e;
  }
}

function held(file: string, size: number, hold: string | null): HeldSet {
  return {
    file: hold ?? file,
    size,
    release: () => (hold === null ? Promise.resolve() : rm(hold, { force: true })),
  };
}

/**
 * Holds the cache entry `tar` for a build: a hard link next to it that the build reads, so that an
 * eviction (which skips entries with more than one link) never takes the file from under it, and
 * a new mtime that marks the entry as just used. Null when there is no such entry (or it was
 * evicted meanwhile).
 */
async function holdEntry(tar: string, sets: string): Promise<HeldSet | null> {
  let hold: string | null;
  try {
    hold = await linkHold(tar, sets);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const file = hold ?? tar;
  const now = new Date();
  await utimes(file, now, now).catch(() => undefined);
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) {
    if (hold !== null) await rm(hold, { force: true });
    return null;
  }
  return held(tar, st.size, hold);
}

/**
 * The dependency set of the project as a tar file, from the cache when the lockfile is unchanged,
 * held until the build releases it (see `holdEntry`). The set is keyed by the lockfile's bytes:
 * the same lockfile always gives the same set. Sets enter the cache whole (fetched in a directory
 * of their own, then renamed into place).
 */
async function dependencySet(
  dir: string,
  workdir: string,
  config: BuildConfig,
  cacheDir: string,
  env: NodeJS.ProcessEnv,
): Promise<HeldSet | null> {
  const lockfiles = await readLockfiles(dir, config.language);
  const key = createHash('sha256')
    .update(
      canonicalJson({
        v: 2,
        language: config.language,
        // The set leaves out optional npm packages of other platforms.
        platform: enclaveNpmPlatform(),
        workdir,
        unpinned: config.allowUnpinnedDependencies === true,
        lockfiles,
      }),
    )
    .digest('hex');
  const sets = join(cacheDir, DEPSET_CACHE_DIR);
  const tar = join(sets, `${key}.tar`);
  const empty = join(sets, `${key}.empty`);
  const now = new Date();
  if (
    await utimes(empty, now, now).then(
      () => true,
      () => false,
    )
  )
    return null;
  await mkdir(sets, { recursive: true });
  const cached = await holdEntry(tar, sets);
  if (cached !== null) return cached;
  const work = await mkdtemp(join(sets, DEPSET_FETCH_PREFIX));
  try {
    const setDir = join(work, 'set');
    const fetched = await fetchDependencySet(dir, config.language, setDir, {
      platform: enclaveNpmPlatform(),
      workdir,
      allowUnpinned: config.allowUnpinnedDependencies === true,
      env,
    });
    if (fetched.files === 0) {
      const marker = join(work, 'set.empty');
      await writeTarFile([], marker);
      await rename(marker, empty);
      return null;
    }
    const partial = join(work, 'set.tar');
    const written = await writeTarFile(packDirectory(setDir), partial);
    // Held before it enters the cache, so that it is never an unused entry while this build runs.
    const hold = await linkHold(partial, sets);
    try {
      // Atomic: a concurrent build (or an eviction) sees the whole set or none.
      await rename(partial, tar);
    } catch (e) {
      if (hold !== null) await rm(hold, { force: true });
      throw e;
    }
    return held(tar, written.bytes, hold);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `.git` entries are never part of a git tree. */
const isGitDir = (rel: string): boolean => basename(rel) === '.git';

/**
 * The source as plain files: tree id computed from them (SHA-1 object format, as git would
 * store them), no commit, and a deterministic archive of the same files.
 */
async function filesSource(
  root: string,
  dir: string,
  archive: string,
): Promise<{ source: GitSource; workdir: string; bytes: number }> {
  const rel = relative(resolve(root), resolve(dir));
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new ProvenanceError('SOURCE_NOT_GIT', `${dir} is not inside the source root ${root}`);
  }
  const tree = await computeTreeId(root, 'sha1', { exclude: isGitDir });
  const written = await writeTarFile(packDirectory(root, { exclude: isGitDir }), archive);
  const source: GitSource = {
    commit: null,
    tree,
    objectFormat: 'sha1',
    dirty: false,
    commitObject: null,
  };
  return { source, workdir: rel === '' ? '.' : rel.split(sep).join('/'), bytes: written.bytes };
}

/** Prepares the inputs of a build of the project in `o.dir` (see the module comment). */
export async function prepareInputs(o: PrepareOptions): Promise<PreparedInputs> {
  const env = o.env ?? process.env;
  const {
    config,
    bytes,
    file: configFile,
  } = o.project ?? (await readProjectConfig(o.dir, o.configFile));
  // A files source's archive is a temporary file (a git source is read as it is sent).
  let tmp: string | undefined;
  // The cached dependency set this build holds (released by cleanup).
  let deps: HeldSet | null = null;
  try {
    let source: GitSource;
    let workdir: string;
    let archiving: Promise<TreeArchive>;
    if (o.sourceKind === 'files') {
      tmp = await mkdtemp(join(tmpdir(), 'tee-compile-client-'));
      const sourceFile = join(tmp, 'source.tar');
      let bytes: number;
      ({ source, workdir, bytes } = await filesSource(o.sourceRoot ?? o.dir, o.dir, sourceFile));
      archiving = Promise.resolve({ size: bytes, open: () => fileChunks(sourceFile) });
    } else {
      const checkout = await readGitCheckout(o.dir, { allowDirty: o.allowDirty === true, env });
      source = checkout.source;
      workdir = source.workdir ?? '.';
      // Listed (every refusal made, the length known) now; the files are read as they are sent.
      archiving = gitTreeArchive(o.dir, source.commit!, {
        env,
        listing: checkout.listing,
        // Committed files unchanged in the work tree are read from it (their blob ids checked).
        worktree: checkout.top,
      });
    }
    if (o.repository !== undefined) source.repository = o.repository;
    // The dependencies while the source is archived: neither needs the other.
    const gathering = (async () => {
      const held =
        o.dependencySet === undefined
          ? await dependencySet(o.dir, workdir, config, o.cacheDir ?? defaultCacheDir(env), env)
          : null;
      try {
        const locked = await readLockedDependencies(o.dir, config.language, {
          workdir,
          platform: enclaveNpmPlatform(),
        });
        return { held, locked };
      } catch (e) {
        await held?.release();
        throw e;
      }
    })();
    // Both settled before anything is returned or removed.
    const [archived, gathered] = await Promise.allSettled([archiving, gathering]);
    if (gathered.status === 'fulfilled') deps = gathered.value.held;
    if (archived.status === 'rejected') throw archived.reason;
    if (gathered.status === 'rejected') throw gathered.reason;
    const sourceArchive = archived.value;
    const dependencies = gathered.value.locked;
    const depsArchive =
      o.dependencySet !== undefined
        ? { file: o.dependencySet, size: (await stat(o.dependencySet)).size }
        : deps && { file: deps.file, size: deps.size };
    const set = deps;
    return {
      source,
      workdir,
      config,
      configBytes: bytes,
      configFile,
      dependencies,
      sourceArchive,
      depsArchive,
      cleanup: async () => {
        await set?.release();
        if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await deps?.release();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
