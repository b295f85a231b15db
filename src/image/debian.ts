/**
 * The Debian parts of an image, with mmdebstrap: the root file system, and a throw-away tree with
 * a compiler for the helpers. Every .deb is fetched from the recipe's mirror into the cache and
 * checked against its pinned SHA-256 first; mmdebstrap then installs exactly the pinned closure
 * (variant `custom`) from a local repository that holds exactly those files, so a mirror can never
 * add, swap or upgrade a package, and an incomplete closure fails instead of being completed.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageError } from './errors.js';
import { fetchPinned } from './fetch.js';
import type { DebPackage, Recipe } from './recipe.js';

const exec = promisify(execFile);
/** Output kept from a failing tool. */
const MAX_TOOL_OUTPUT = 64 * 1024 * 1024;

/** Runs a program; `TOOL_MISSING` when absent, `TOOL_FAILED` with its output when it fails. */
export async function runTool(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { env, maxBuffer: MAX_TOOL_OUTPUT });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    if (err.code === 'ENOENT')
      throw new ImageError('TOOL_MISSING', `${cmd} is not installed (apt-get install ${cmd})`, {
        cause: e,
      });
    const tail = `${err.stdout ?? ''}${err.stderr ?? ''}`.slice(-4000);
    throw new ImageError('TOOL_FAILED', `${cmd} failed: ${tail}`, { cause: e });
  }
}

/**
 * mmdebstrap runs in root mode: only root keeps Debian's owners, modes and device nodes in the
 * directory tree the ramdisk is read from. Its unshare mode (user namespaces, newuidmap and
 * /etc/subuid) makes the same tar bit for bit, but its directory output is owned by subordinate
 * ids as seen from outside the namespace, so reading it would give another ramdisk; until the
 * tree is read from mmdebstrap's tar instead, a build as another user is refused with
 * `ROOT_REQUIRED`, naming what to do. `uid` is the caller's (a parameter for the tests).
 */
export function checkPrivileges(uid: number | undefined = process.getuid?.()): void {
  if (uid === undefined || uid === 0) return;
  throw new ImageError(
    'ROOT_REQUIRED',
    `image build makes the Debian root file system with mmdebstrap --mode=root, which needs root (uid 0, this is uid ${uid}): run it with sudo (sudo --preserve-env=PATH tee-compile image build …), or in a root container; a recipe without Debian packages builds as any user`,
  );
}

let version: Promise<string> | undefined;
/** `mmdebstrap --version` (part of the reuse keys: another mmdebstrap may make another tree). */
export function mmdebstrapVersion(): Promise<string> {
  version ??= runTool('mmdebstrap', ['--version']).then((v) => v.trim());
  return version;
}

/** Fetches and checks every package; returns the cached files. */
export async function fetchPackages(
  mirror: string,
  packages: readonly DebPackage[],
  cacheDir: string,
): Promise<Map<DebPackage, string>> {
  const out = new Map<DebPackage, string>();
  for (const p of packages)
    out.set(
      p,
      await fetchPinned(
        {
          url: `${mirror.replace(/\/+$/, '')}/${p.filename}`,
          sha256: p.sha256,
          what: `package ${p.name}=${p.version}`,
        },
        cacheDir,
      ),
    );
  return out;
}

/** A flat apt repository (`deb [trusted=yes] copy://DIR ./`) of exactly these checked files. */
async function localRepo(files: Map<DebPackage, string>, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const stanzas: string[] = [];
  for (const [p, file] of files) {
    const name = `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.architecture}.deb`;
    await copyFile(file, join(dir, name));
    const control = (await runTool('dpkg-deb', ['--field', file])).trimEnd();
    const { size } = await import('node:fs/promises').then((f) => f.stat(file));
    stanzas.push(`${control}\nFilename: ./${name}\nSize: ${size}\nSHA256: ${p.sha256}\n`);
  }
  await writeFile(join(dir, 'Packages'), stanzas.join('\n'));
  // copy: (not file:) so apt copies the files into the tree, where the chrooted dpkg finds them.
  return `deb [trusted=yes] copy://${dir} ./`;
}

function mmdebstrapEnv(recipe: Recipe): NodeJS.ProcessEnv {
  const d = recipe.debian!;
  return {
    // The image's apt source names the recipe's mirror, not the build's temporary repository.
    TEE_IMAGE_SOURCES: `deb ${d.mirror} ${d.suite} main`,
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    SOURCE_DATE_EPOCH: String(recipe.sourceDateEpoch),
    LC_ALL: 'C.UTF-8',
    TZ: 'UTC',
  };
}

/** mmdebstrap's fixed options for the root file system (part of its reuse key). */
export const ROOTFS_OPTIONS = [
  '--quiet',
  '--mode=root',
  '--format=directory',
  '--variant=custom',
  '--customize-hook=printf "%s\\n" "$TEE_IMAGE_SOURCES" > "$1/etc/apt/sources.list"',
] as const;

/** The image's root file system in `target` (created), from the checked packages. */
export async function debianRootfs(
  recipe: Recipe,
  files: Map<DebPackage, string>,
  work: string,
  target: string,
): Promise<void> {
  const d = recipe.debian!;
  const repo = await localRepo(files, join(work, 'repo-rootfs'));
  await runTool(
    'mmdebstrap',
    [
      ...ROOTFS_OPTIONS,
      `--architectures=${d.architecture}`,
      `--include=${d.packages.map((p) => p.name).join(',')}`,
      d.suite,
      target,
      repo,
    ],
    mmdebstrapEnv(recipe),
  );
}

/** Fixed compiler flags of the helpers: no build id, no build paths, no timestamps. */
export const HELPER_CFLAGS = [
  '-std=c11',
  '-O2',
  '-Wall',
  '-Wextra',
  '-D_FORTIFY_SOURCE=2',
  '-ffile-prefix-map=/tmp/tee-src=.',
  '-fno-ident',
  '-Wl,--build-id=none',
];

/**
 * Compiles `sources` (name -> C file) in a throw-away tree of `debian.buildPackages`, so the
 * compiler is the recipe's and not the host's; the binaries land in `outDir`.
 */
export async function compileHelpers(
  recipe: Recipe,
  files: Map<DebPackage, string>,
  sources: { name: string; file: string }[],
  work: string,
  outDir: string,
): Promise<void> {
  const d = recipe.debian!;
  const repo = await localRepo(files, join(work, 'repo-build'));
  const src = join(work, 'helper-src');
  await mkdir(src, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const script = ['set -eu', 'mkdir -p /tmp/tee-out', 'cd /tmp/tee-src'];
  for (const s of sources) {
    await copyFile(s.file, join(src, `${s.name}.c`));
    script.push(`cc ${HELPER_CFLAGS.join(' ')} -o /tmp/tee-out/${s.name} ${s.name}.c`);
  }
  await runTool(
    'mmdebstrap',
    [
      '--quiet',
      '--mode=root',
      '--variant=custom',
      `--architectures=${d.architecture}`,
      `--include=${d.buildPackages.map((p) => p.name).join(',')}`,
      '--customize-hook=mkdir -p "$1/tmp/tee-src"',
      `--customize-hook=sync-in ${src} /tmp/tee-src`,
      `--customize-hook=chroot "$1" sh -c '${script.join('; ')}'`,
      `--customize-hook=sync-out /tmp/tee-out ${outDir}`,
      d.suite,
      '/dev/null',
      repo,
    ],
    mmdebstrapEnv(recipe),
  );
}
