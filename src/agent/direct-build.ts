/**
 * A build from inputs the agent already holds, for the two cases `runBuild` does not take: a
 * source without `.git` (its tree id is computed from the files and the commit is null: the
 * worker then binds the tree alone) and a dependency set prepared by the client (sent as is: the
 * worker checks every dependency against the lockfile). Same parts and defaults as `runBuild`:
 * build.json parsed by the provenance module, the image from the catalog, one single-use enclave,
 * the protocol's `submitBuild`.
 */
import { rename, rm, stat, readFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileChunks, packDirectory, writeTarFile } from '../archive/node.js';
import type { BuildEvent } from '../client/run-build.js';
import {
  DEFAULT_CPUS,
  DEFAULT_MEMORY_MIB,
  DEFAULT_TIMEOUT_S,
  ENCLAVE_TIME_MARGIN_MS,
} from '../client/run-build.js';
import type { Enclave, EnclaveBackend, ImageRef } from '../enclave/types.js';
import type { ImageCatalog } from '../enclave/images.js';
import { findImage } from '../enclave/images.js';
import type { ObjectFormat } from '../provenance/index.js';
import { ProvenanceError, parseBuildConfigText } from '../provenance/index.js';
import {
  computeTreeId,
  fetchDependencySet,
  readGitSource,
  readLockedDependencies,
  writeGitTreeArchive,
} from '../provenance/node.js';
import type { ClientInput } from '../protocol/index.js';
import { submitBuild } from '../protocol/index.js';

/** Largest build.json read from a source. */
const MAX_BUILD_JSON_BYTES = 1024 * 1024;

export interface DirectBuildOptions {
  /** Source root (build.json at its top). */
  dir: string;
  out: string;
  /** Scratch directory for the archives (inside the job's directory). */
  scratch: string;
  backend: EnclaveBackend;
  catalog: ImageCatalog;
  /** build.json text overriding `<dir>/build.json`, or null. */
  configText: string | null;
  nonce: Uint8Array;
  /** Tar of a dependency set from the client, or null to fetch the locked dependencies here. */
  dependencySet: string | null;
  repository: string | null;
  env: NodeJS.ProcessEnv;
  onEvent: (e: BuildEvent) => void;
  signal: AbortSignal;
  buildId: string;
}

export interface DirectBuildResult {
  subjects: { name: string; sha256: string }[];
  source: { commit: string | null; tree: string };
}

function fileInput(file: string, size: number): ClientInput {
  return { size, open: () => fileChunks(file) };
}

function bytesInput(b: Uint8Array): ClientInput {
  return {
    size: b.length,
    open: async function* () {
      if (b.length > 0) yield b;
    },
  };
}

async function readBuildJson(dir: string): Promise<string> {
  const file = join(dir, 'build.json');
  try {
    const st = await stat(file);
    if (st.size > MAX_BUILD_JSON_BYTES)
      throw new ProvenanceError(
        'CONFIG_INVALID',
        `build.json is larger than ${MAX_BUILD_JSON_BYTES} bytes`,
      );
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new ProvenanceError(
        'CONFIG_MISSING',
        'the source has no build.json at its root and the request sent no config',
        { cause: e },
      );
    throw e;
  }
}

interface Source {
  commit: string | null;
  tree: string;
  objectFormat: ObjectFormat;
  commitObject: Uint8Array | null;
  workdir: string;
  repository: string | null;
  archive: { file: string; size: number };
}

async function prepareSource(o: DirectBuildOptions): Promise<Source> {
  const archive = join(o.scratch, 'source.tar');
  let hasGit = false;
  try {
    hasGit = (await stat(join(o.dir, '.git'))).isDirectory();
  } catch {
    hasGit = false;
  }
  if (hasGit) {
    const s = await readGitSource(o.dir, { allowDirty: true, env: o.env });
    const written = await writeGitTreeArchive(o.dir, s.commit!, archive, { env: o.env });
    return {
      commit: s.commit,
      tree: s.tree,
      objectFormat: s.objectFormat,
      commitObject: s.commitObject,
      workdir: s.workdir ?? '.',
      repository: o.repository ?? s.repository ?? null,
      archive: { file: archive, size: written.bytes },
    };
  }
  // No commit: the files are the source. `.git` entries are never part of a git tree.
  const isGit = (rel: string): boolean => basename(rel) === '.git';
  const tree = await computeTreeId(o.dir, 'sha1', { exclude: isGit });
  const written = await writeTarFile(packDirectory(o.dir, { exclude: isGit }), archive);
  return {
    commit: null,
    tree,
    objectFormat: 'sha1',
    commitObject: null,
    workdir: '.',
    repository: o.repository,
    archive: { file: archive, size: written.bytes },
  };
}

/** Runs one build from prepared inputs (see the module comment). */
export async function directBuild(o: DirectBuildOptions): Promise<DirectBuildResult> {
  const configText = o.configText ?? (await readBuildJson(o.dir));
  const config = parseBuildConfigText(configText, 'build.json');
  const configBytes = new Uint8Array(Buffer.from(configText, 'utf8'));
  await mkdir(o.scratch, { recursive: true });
  const source = await prepareSource(o);
  let deps: { file: string; size: number } | null = null;
  if (o.dependencySet !== null) {
    deps = { file: o.dependencySet, size: (await stat(o.dependencySet)).size };
  } else {
    const setDir = join(o.scratch, 'dependencies');
    const fetched = await fetchDependencySet(o.dir, config.language, setDir, {
      workdir: source.workdir,
      allowUnpinned: config.allowUnpinnedDependencies === true,
      env: o.env,
    });
    if (fetched.files > 0) {
      const file = join(o.scratch, 'dependencies.tar');
      const written = await writeTarFile(packDirectory(setDir), file);
      deps = { file, size: written.bytes };
    }
    await rm(setDir, { recursive: true, force: true });
  }
  o.onEvent({
    type: 'prepared',
    source: {
      repository: source.repository,
      commit: source.commit,
      tree: source.tree,
      dirty: false,
    },
    workdir: source.workdir,
    language: config.language,
    dependencies: (
      await readLockedDependencies(o.dir, config.language, { workdir: source.workdir })
    ).length,
    inputBytes: source.archive.size + (deps?.size ?? 0) + configBytes.length,
  });
  const entry = findImage(o.catalog, {
    language: config.language,
    ...(config.image?.name !== undefined ? { name: config.image.name } : {}),
    ...(config.image?.version !== undefined ? { version: config.image.version } : {}),
    ...(o.backend.name === 'nitro' ? { measured: true } : {}),
  });
  const image: ImageRef = { name: entry.name, version: entry.version, language: entry.language };
  const timeoutS = config.timeout ?? DEFAULT_TIMEOUT_S;
  o.onEvent({ type: 'enclave', state: 'starting' });
  let enclave: Enclave | undefined;
  const partial = `${o.out}.partial`;
  try {
    enclave = await o.backend.start({
      buildId: o.buildId,
      image,
      cpus: config.resources?.cpus ?? DEFAULT_CPUS,
      memoryMiB: config.resources?.memoryMiB ?? DEFAULT_MEMORY_MIB,
      timeoutMs: timeoutS * 1000 + ENCLAVE_TIME_MARGIN_MS,
    });
    o.onEvent({ type: 'enclave', state: 'running', id: enclave.id, isolation: enclave.isolation });
    const stream = await enclave.connect();
    const session = await submitBuild(
      stream,
      {
        nonce: o.nonce,
        workdir: source.workdir,
        source: {
          repository: source.repository,
          commit: source.commit,
          tree: source.tree,
          objectFormat: source.objectFormat,
        },
        inputs: {
          config: bytesInput(configBytes),
          commit: bytesInput(source.commitObject ?? new Uint8Array(0)),
          source: fileInput(source.archive.file, source.archive.size),
          deps: deps ? fileInput(deps.file, deps.size) : bytesInput(new Uint8Array(0)),
        },
      },
      {
        bundleFile: partial,
        onEvent: o.onEvent,
        signal: o.signal,
        limits: { totalTimeoutMs: timeoutS * 1000 + ENCLAVE_TIME_MARGIN_MS },
        client: 'tee-compile',
      },
    );
    await rename(partial, o.out);
    return { subjects: session.subjects, source: { commit: source.commit, tree: source.tree } };
  } finally {
    await rm(partial, { force: true });
    await rm(source.archive.file, { force: true });
    if (enclave) await enclave.stop();
  }
}
