/**
 * Cargo dependency sets. On the host: `cargo fetch --locked` with a temporary CARGO_HOME, then the
 * `.crate` files it downloaded, checked against Cargo.lock. In the enclave: each verified crate
 * unpacked (src/archive's safe extraction) into a vendor directory with a generated
 * `.cargo-checksum.json`, and a CARGO_HOME whose config replaces every registry of the lockfile
 * with that directory (Cargo Book, "Source Replacement"), so that `cargo build --offline --locked`
 * builds from verified bytes only.
 */
import { copyFile, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveError } from '../../archive/index.js';
import { extractTar, fileChunks } from '../../archive/node.js';
import { bytesEqual } from '../../util/hex.js';
import { CRATES_IO_SOURCE } from '../lockfile/cargo.js';
import { listSome, provenanceError } from '../errors.js';
import { firstLine } from '../exec.js';
import type { LockedDependency } from '../types.js';
import { hashFilesUnder } from './dirhash.js';
import { copyHashing, exists, takeHashing, writeNewFile } from './files.js';
import type { ExpectedArtifact, PreparedEcosystem } from './layout.js';
import { runFetchTool } from './tool.js';

/** Largest crate accepted (crates.io allows 10 MB by default; some registries more). */
export const MAX_CRATE_BYTES = 512 * 1024 * 1024;
/** Bounds on an unpacked crate. */
const CRATE_LIMITS = {
  maxEntries: 100_000,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
  maxEntryBytes: 2 * 1024 * 1024 * 1024,
};

/**
 * Fetches the crates of `artifacts` with the real cargo (`cargo fetch --locked` in `projectDir`,
 * CARGO_HOME temporary) and stores each under its checksum in `outDir`. The temporary CARGO_HOME
 * gets `cargoConfig` as its config.toml, or else a copy of the user's cargo config (mirrors and
 * source replacements keep working).
 */
export async function fetchCargo(
  artifacts: readonly ExpectedArtifact[],
  projectDir: string,
  outDir: string,
  opts: { env: NodeJS.ProcessEnv; cargoConfig?: string },
): Promise<number> {
  if (artifacts.length === 0) return 0;
  const home = await mkdtemp(join(tmpdir(), 'tee-compile-cargo-'));
  try {
    if (opts.cargoConfig !== undefined) {
      await writeNewFile(join(home, 'config.toml'), opts.cargoConfig);
    } else {
      const userHome = opts.env.CARGO_HOME ?? join(opts.env.HOME ?? homedir(), '.cargo');
      for (const f of ['config.toml', 'config']) {
        if (await exists(join(userHome, f))) await copyFile(join(userHome, f), join(home, f));
      }
    }
    await runFetchTool('cargo', ['fetch', '--locked'], {
      cwd: projectDir,
      env: { ...opts.env, CARGO_HOME: home, CARGO_TERM_COLOR: 'never' },
      label: 'cargo fetch',
      // cargo prints progress first; the line that says what went wrong mentions an error.
      reason: (stderr) =>
        firstLine(
          stderr
            .split('\n')
            .filter((l) => /error/i.test(l))
            .join('\n'),
        ) || firstLine(stderr),
    });
    // cargo keeps downloaded crates in registry/cache/<registry>/<name>-<version>.crate.
    const found = new Map<string, string[]>();
    const cacheRoot = join(home, 'registry', 'cache');
    for (const reg of (await exists(cacheRoot)) ? await readdir(cacheRoot) : []) {
      for (const f of await readdir(join(cacheRoot, reg))) {
        if (f.endsWith('.crate')) found.set(f, [...(found.get(f) ?? []), join(cacheRoot, reg, f)]);
      }
    }
    let bytes = 0;
    for (const a of artifacts) {
      const dep = a.deps[0]!;
      const candidates = found.get(`${dep.name}-${dep.version}.crate`) ?? [];
      let stored = false;
      for (const c of candidates) {
        const dest = join(outDir, a.path);
        if (await exists(dest)) {
          stored = true;
          break;
        }
        const tmp = `${dest}.partial`;
        const { digests, size } = await copyHashing(c, tmp, ['sha256'], MAX_CRATE_BYTES);
        if (bytesEqual(digests.get('sha256')!, a.digest)) {
          await rename(tmp, dest);
          bytes += size;
          stored = true;
          break;
        }
        await rm(tmp, { force: true });
      }
      if (!stored) {
        throw provenanceError(
          candidates.length > 0 ? 'DEPENDENCY_DIGEST_MISMATCH' : 'DEPENDENCY_FETCH_FAILED',
          candidates.length > 0
            ? `${dep.name} ${dep.version}: the crate cargo downloaded does not match the Cargo.lock checksum`
            : `${dep.name} ${dep.version}: cargo fetch did not download it`,
          `${dep.name}@${dep.version}`,
        );
      }
    }
    return bytes;
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** TOML basic string (cargo config). */
function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** The cargo config that makes every registry source of the lockfile read the vendor directory. */
export function vendorConfig(vendorDir: string, deps: readonly LockedDependency[]): string {
  const registries = new Set<string>([CRATES_IO_SOURCE]);
  for (const d of deps)
    if (d.ecosystem === 'cargo' && d.kind === 'registry' && d.source !== undefined)
      registries.add(d.source);
  const lines = [
    '# Written by tee-compile: every registry is replaced by the verified vendor directory.',
  ];
  let i = 0;
  for (const src of [...registries].sort()) {
    if (src === CRATES_IO_SOURCE) {
      lines.push('[source.crates-io]', 'replace-with = "tee-compile-vendor"', '');
    } else {
      const url = src.startsWith('registry+') ? src.slice('registry+'.length) : src;
      lines.push(
        `[source.tee-compile-registry-${i++}]`,
        `registry = ${tomlString(url)}`,
        'replace-with = "tee-compile-vendor"',
        '',
      );
    }
  }
  lines.push(
    '[source.tee-compile-vendor]',
    `directory = ${tomlString(vendorDir)}`,
    '',
    '[net]',
    'offline = true',
    '',
  );
  return lines.join('\n');
}

/**
 * Unpacks each verified crate into `outDir/cargo-vendor/<name>-<version>` with its
 * `.cargo-checksum.json` (`{"files": {path: sha256}, "package": <crate sha256>}`, the directory
 * source format) and writes `outDir/cargo-home/config.toml`. A crate whose bytes differ from the
 * lockfile is refused before it is unpacked. `consume`: the crates are moved out of `depset`,
 * not copied.
 */
export async function prepareCargo(
  depset: string,
  artifacts: readonly ExpectedArtifact[],
  outDir: string,
  deps: readonly LockedDependency[],
  consume = false,
): Promise<PreparedEcosystem> {
  const vendor = join(outDir, 'cargo-vendor');
  const scratch = join(outDir, '.cargo-verify');
  const home = join(outDir, 'cargo-home');
  await mkdir(vendor, { recursive: true });
  let n = 0;
  for (const a of artifacts) {
    const copy = join(scratch, `${n}.crate`);
    const { digests } = await takeHashing(
      consume,
      join(depset, a.path),
      copy,
      ['sha256'],
      MAX_CRATE_BYTES,
    );
    const got = digests.get('sha256')!;
    const label = listSome(a.deps.map((d) => `${d.name} ${d.version}`));
    if (!bytesEqual(got, a.digest)) {
      throw provenanceError(
        'DEPENDENCY_DIGEST_MISMATCH',
        `${label}: ${a.path} has sha256 ${got.toString('hex')}, Cargo.lock pins ${Buffer.from(a.digest).toString('hex')}`,
        a.path,
      );
    }
    const unpacked = join(scratch, `${n++}`);
    try {
      await extractTar(fileChunks(copy), unpacked, { limits: CRATE_LIMITS, symlinks: 'refuse' });
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      throw provenanceError(
        'DEPENDENCY_MALFORMED',
        `${label}: the crate is not a safe archive: ${err.message}`,
        a.path,
        err,
      );
    }
    const dep = a.deps[0]!;
    const top = await readdir(unpacked);
    const expectedTop = `${dep.name}-${dep.version}`;
    if (top.length !== 1 || top[0] !== expectedTop) {
      throw provenanceError(
        'DEPENDENCY_MALFORMED',
        `${label}: the crate must hold exactly one directory ${expectedTop}/, found ${listSome(top)}`,
        a.path,
      );
    }
    let dest = join(vendor, expectedTop);
    if (await exists(dest))
      dest = join(vendor, `${expectedTop}-${got.toString('hex').slice(0, 12)}`);
    await rename(join(unpacked, expectedTop), dest);
    const files: Record<string, string> = {};
    for (const f of await hashFilesUnder(dest)) {
      if (f.name !== '.cargo-checksum.json') files[f.name] = f.sha256;
    }
    await rm(join(dest, '.cargo-checksum.json'), { force: true });
    await writeNewFile(
      join(dest, '.cargo-checksum.json'),
      JSON.stringify({ files, package: got.toString('hex') }),
    );
  }
  await rm(scratch, { recursive: true, force: true });
  await writeNewFile(join(home, 'config.toml'), vendorConfig(vendor, deps));
  return {
    env: { CARGO_HOME: home, CARGO_NET_OFFLINE: 'true' },
    dirs: [
      { path: vendor, writable: false, purpose: 'vendored crates (verified)' },
      { path: home, writable: true, purpose: 'CARGO_HOME' },
    ],
  };
}
