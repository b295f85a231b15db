/**
 * Go dependency sets. On the host: the real `go mod download` (module zips and go.mod files) and
 * `go list -m` (go.mod only, for modules go.sum pins by go.mod alone) into a temporary GOMODCACHE,
 * outside any module so nothing in the checkout changes; the `.zip` and `.mod` files are copied
 * into the set in cache/download layout. In the enclave: each zip is checked against its go.sum
 * `h1:` (dirhash Hash1 over its files, unpacked with src/archive's safe extraction) and each
 * go.mod against its `/go.mod h1:`; only verified files are copied into a fresh module proxy
 * directory, and the build runs with `GOPROXY=file://…`, an empty GOMODCACHE, `GOSUMDB=off`
 * (go.sum already pins every module), `GOFLAGS=-mod=readonly` and `GOTOOLCHAIN=local`.
 */
import { mkdir, mkdtemp, readFile, rm, stat, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ArchiveError } from '../../archive/index.js';
import { extractZip } from '../../archive/node.js';
import { bytesEqual } from '../../util/hex.js';
import { listSome, provenanceError } from '../errors.js';
import { runTool } from '../exec.js';
import type { LockedDependency } from '../types.js';
import { hash1, hash1GoMod, hashFilesUnder } from './dirhash.js';
import { exists, takeHashing, writeNewFile } from './files.js';
import { goModuleDir } from './layout.js';
import type { ExpectedArtifact, PreparedEcosystem } from './layout.js';
import { runFetchTool } from './tool.js';

/** Go's own bounds (golang.org/x/mod/zip MaxZipFile, modfetch's go.mod limit). */
export const MAX_GO_ZIP_BYTES = 500 * 1024 * 1024;
export const MAX_GO_MOD_BYTES = 16 * 1024 * 1024;
/** Arguments per `go` invocation (command-line length). */
const GO_BATCH = 100;

async function goTool(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  await runFetchTool('go', args, { cwd, env, label: `go ${args.slice(0, 2).join(' ')}` });
}

/**
 * Fetches the module zips and go.mod files of `deps` with the real go command into `outDir/go`.
 * The host's GOPROXY, GOPRIVATE, GONOPROXY and credentials apply; GOSUMDB is off because the
 * set is checked against go.sum anyway.
 */
export async function fetchGo(
  deps: readonly LockedDependency[],
  outDir: string,
  opts: { env: NodeJS.ProcessEnv },
): Promise<number> {
  const withZip = deps.filter((d) => d.digest !== null);
  const modOnly = deps.filter((d) => d.digest === null && d.goModDigest !== undefined);
  if (withZip.length + modOnly.length === 0) return 0;
  const work = await mkdtemp(join(tmpdir(), 'tee-compile-go-'));
  const cache = join(work, 'modcache');
  const cwd = join(work, 'empty');
  await mkdir(cwd, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...opts.env,
    GOMODCACHE: cache,
    GOPATH: join(work, 'gopath'),
    GOFLAGS: '-mod=mod',
    GOSUMDB: 'off',
    GOWORK: 'off',
    GO111MODULE: 'on',
    GOTOOLCHAIN: 'local',
  };
  try {
    for (let i = 0; i < withZip.length; i += GO_BATCH) {
      await goTool(
        [
          'mod',
          'download',
          '-json',
          ...withZip.slice(i, i + GO_BATCH).map((d) => `${d.name}@${d.version}`),
        ],
        cwd,
        env,
      );
    }
    for (let i = 0; i < modOnly.length; i += GO_BATCH) {
      await goTool(
        [
          'list',
          '-m',
          '-json',
          ...modOnly.slice(i, i + GO_BATCH).map((d) => `${d.name}@${d.version}`),
        ],
        cwd,
        env,
      );
    }
    let bytes = 0;
    for (const d of [...withZip, ...modOnly]) {
      const { dir, base } = goModuleDir(d.name, d.version);
      const exts = d.digest !== null ? ['.zip', '.mod'] : ['.mod'];
      for (const ext of exts) {
        if (ext === '.mod' && d.goModDigest === undefined) continue;
        const src = join(cache, 'cache', 'download', dir, `${base}${ext}`);
        const dest = join(outDir, 'go', dir, `${base}${ext}`);
        if (await exists(dest)) continue;
        if (!(await exists(src))) {
          throw provenanceError(
            'DEPENDENCY_FETCH_FAILED',
            `${d.name} ${d.version}: go did not download ${base}${ext}`,
            `${d.name}@${d.version}`,
          );
        }
        await mkdir(dirname(dest), { recursive: true });
        await copyFile(src, dest);
        bytes += (await stat(dest)).size;
      }
    }
    return bytes;
  } finally {
    // The module cache is read-only by design; make it removable first.
    await runTool('chmod', ['-R', 'u+w', work]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

function mismatch(a: ExpectedArtifact, what: string, got: Buffer): never {
  const label = listSome(a.deps.map((d) => `${d.name} ${d.version}`));
  throw provenanceError(
    'DEPENDENCY_DIGEST_MISMATCH',
    `${label}: ${what} hashes to h1:${got.toString('base64')}, go.sum pins h1:${Buffer.from(a.digest).toString('base64')}`,
    a.path,
  );
}

/**
 * Verifies every zip and go.mod of `artifacts` and copies them (moves them, when `consume`) into
 * `outDir/go-proxy` (GOPROXY layout, with `.info` and `list` files generated from the lockfile),
 * then returns the offline environment.
 */
export async function prepareGo(
  depset: string,
  artifacts: readonly ExpectedArtifact[],
  outDir: string,
  consume = false,
): Promise<PreparedEcosystem> {
  const proxy = join(outDir, 'go-proxy');
  const modcache = join(outDir, 'go-modcache');
  const scratch = join(outDir, '.go-verify');
  await mkdir(proxy, { recursive: true });
  await mkdir(modcache, { recursive: true });
  const versions = new Map<string, Set<string>>();
  let n = 0;
  for (const a of artifacts) {
    const dest = join(proxy, a.path.slice('go/'.length));
    const dep = a.deps[0]!;
    if (a.kind === 'go-mod') {
      await takeHashing(consume, join(depset, a.path), dest, [], MAX_GO_MOD_BYTES);
      const got = hash1GoMod(await readFile(dest));
      if (!bytesEqual(got, a.digest)) mismatch(a, 'go.mod', got);
    } else {
      await takeHashing(consume, join(depset, a.path), dest, [], MAX_GO_ZIP_BYTES);
      // Hash1 over the zip's files, from our own copy unpacked with the shared safe extractor.
      const unpacked = join(scratch, `${n++}`);
      try {
        await extractZip(dest, unpacked, {
          limits: { maxTotalBytes: MAX_GO_ZIP_BYTES, maxEntryBytes: MAX_GO_ZIP_BYTES },
          symlinks: 'refuse',
        });
      } catch (err) {
        if (!(err instanceof ArchiveError)) throw err;
        throw provenanceError(
          'DEPENDENCY_MALFORMED',
          `${dep.name} ${dep.version}: the module zip is not a safe archive: ${err.message}`,
          a.path,
          err,
        );
      }
      const got = hash1(await hashFilesUnder(unpacked));
      await rm(unpacked, { recursive: true, force: true });
      if (!bytesEqual(got, a.digest)) mismatch(a, 'the module zip', got);
    }
    for (const d of a.deps) {
      const { dir, base } = goModuleDir(d.name, d.version);
      const info = join(proxy, dir, `${base}.info`);
      if (!(await exists(info))) await writeNewFile(info, JSON.stringify({ Version: d.version }));
      versions.set(dir, (versions.get(dir) ?? new Set()).add(d.version));
    }
  }
  for (const [dir, vs] of versions)
    await writeNewFile(join(proxy, dir, 'list'), `${[...vs].sort().join('\n')}\n`);
  await rm(scratch, { recursive: true, force: true });
  return {
    env: {
      GOPROXY: pathToFileURL(proxy).href,
      GOMODCACHE: modcache,
      GOSUMDB: 'off',
      GOFLAGS: '-mod=readonly',
      GOTOOLCHAIN: 'local',
      GONOPROXY: '',
      GONOSUMDB: '',
      GOPRIVATE: '',
      GOVCS: '*:off',
    },
    dirs: [
      { path: proxy, writable: false, purpose: 'Go module proxy (verified zips and go.mod files)' },
      { path: modcache, writable: true, purpose: 'GOMODCACHE' },
    ],
  };
}
