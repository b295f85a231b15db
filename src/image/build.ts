/**
 * `tee-compile image build`: an enclave image file from its recipe, with no Docker, no nitro-cli
 * and no Nitro host. Every pinned input is fetched and checked before anything is built; the
 * ramdisks are deterministic cpio archives laid out as nitro-cli does; the EIF is written by our
 * writer with fixed metadata. Two builds of one recipe give the same bytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import type { EifSectionData } from '../eif/index.js';
import { describeEifFile, writeEifFile } from '../eif/node.js';
import { hashFile, sha256File } from '../util/node.js';
import { checkBootBlobs, readCmdline } from './blobs.js';
import type { CpioMember } from './cpio.js';
import { S_IFDIR, S_IFLNK, S_IFREG, cpioChunks } from './cpio.js';
import {
  HELPER_CFLAGS,
  ROOTFS_OPTIONS,
  checkPrivileges,
  compileHelpers,
  debianRootfs,
  fetchPackages,
  mmdebstrapVersion,
  runTool,
} from './debian.js';
import { ImageError } from './errors.js';
import { fetchPinned } from './fetch.js';
import { bootstrapMembers, customerMembers } from './ramdisk.js';
import type { DebPackage, Recipe } from './recipe.js';
import { parseRecipe } from './recipe.js';
import { treeMembers } from './tree.js';
import {
  dropRootfs,
  keepHelpers,
  keepRootfs,
  membersDigest,
  reuseKey,
  reusedHelpers,
  rootfsEntry,
  rootfsManifest,
  rootfsPartial,
} from './reuse.js';
import { bundleWorker } from './worker.js';

/** Largest recipe file read. */
export const MAX_RECIPE_BYTES = 4 * 1024 * 1024;
/** Names `BuildTool`/`BuildToolVersion` in the metadata: fixed, so the EIF does not vary. */
export const IMAGE_BUILD_TOOL = 'tee-compile image build';
export const IMAGE_BUILD_FORMAT = 'tee-compile-image/1';

/** Where a recipe lives. */
export function recipePath(root: string, name: string): string {
  return join(root, 'enclave', 'images', name, 'recipe.json');
}

/** Reads and validates `enclave/images/<name>/recipe.json` under `root`. */
export async function loadRecipe(
  root: string,
  name: string,
): Promise<{ recipe: Recipe; sha256: string }> {
  if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name))
    throw new ImageError('IMAGE_NOT_FOUND', `${JSON.stringify(name)} is not an image name`);
  const path = recipePath(root, name);
  let bytes: Buffer;
  try {
    const st = await stat(path);
    if (st.size > MAX_RECIPE_BYTES) throw new Error(`larger than ${MAX_RECIPE_BYTES} bytes`);
    bytes = await readFile(path);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ImageError(
      missing ? 'IMAGE_NOT_FOUND' : 'RECIPE_UNREADABLE',
      missing
        ? `no recipe for image ${name} (${path})`
        : `cannot read ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new ImageError('RECIPE_UNREADABLE', `${path} is not JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const recipe = parseRecipe(json);
  if (recipe.name !== name)
    throw new ImageError('RECIPE_INVALID', `${path} names image ${recipe.name}, not ${name}`, {
      path: 'name',
    });
  return { recipe, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** What `image build` needs. */
export interface BuildImageOptions {
  /** Repository root (holds enclave/ and src/). */
  root: string;
  name: string;
  /** Folder the .eif is written to. */
  outDir: string;
  /** Folder holding the AWS boot blobs. */
  blobsDir: string;
  /** Content-addressed download cache (packages, tarballs). */
  cacheDir: string;
  /**
   * Reuse the helpers and root file system an earlier build made from the same pinned inputs
   * (checked against their manifests; see reuse.ts). Default true; a published build starts from
   * an empty cache or passes false.
   */
  reuse?: boolean;
  /** The building user's id (default: this process's); a recipe with Debian packages needs 0. */
  uid?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Digests and PCRs of a built image. */
export interface BuiltImage {
  name: string;
  version: string;
  eif: string;
  sha256: string;
  size: number;
  pcr0: string;
  pcr1: string;
  pcr2: string;
  recipeSha256: string;
  /** SHA-256 of each ramdisk as written. */
  ramdisks: { bootstrap: string; customer: string };
  /** Milliseconds per phase. */
  timings: Record<string, number>;
  /** What was taken from the cache instead of being made again. */
  reused: { helpers: boolean; rootfs: boolean };
}

function fileSection(path: string, size: number): EifSectionData {
  return {
    size,
    chunks: () => createReadStream(path, { highWaterMark: 1 << 20 }),
  };
}

const enc = new TextEncoder();

/** Ancestors of `abs` (an absolute path in the image) as directory members under `rootfs/`. */
function ancestors(abs: string): CpioMember[] {
  const parts = abs.split('/').filter((s) => s !== '');
  const out: CpioMember[] = [];
  for (let i = 1; i < parts.length; i++)
    out.push({
      path: `rootfs/${parts.slice(0, i).join('/')}`,
      mode: S_IFDIR | 0o755,
      uid: 0,
      gid: 0,
    });
  return out;
}

/** Writes the archive to `path` and returns its SHA-256 (hashed as written, not read back). */
async function writeCpioFile(
  members: CpioMember[],
  mtime: number,
  path: string,
): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const c of cpioChunks(members, mtime)) {
      h.update(c);
      size += c.length;
      yield c;
    }
  }
  await pipeline(Readable.from(hashed()), createWriteStream(path));
  return { sha256: h.digest('hex'), size };
}

/** Builds the image; see the module comment. */
export async function buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
  const log = opts.log ?? (() => undefined);
  const timings: Record<string, number> = {};
  let t = Date.now();
  const lap = (k: string) => {
    const now = Date.now();
    timings[k] = now - t;
    t = now;
  };
  const { recipe, sha256: recipeSha256 } = await loadRecipe(opts.root, opts.name);
  if (recipe.debian !== undefined) checkPrivileges(opts.uid);

  // 1. Every pinned input, checked, before anything is built.
  log(`checking boot blobs in ${opts.blobsDir}`);
  const blobs = await checkBootBlobs(opts.blobsDir, recipe);
  const tarballs: string[] = [];
  for (const tb of recipe.tarballs) {
    log(`fetching ${tb.url}`);
    tarballs.push(
      await fetchPinned(
        { url: tb.url, sha256: tb.sha256, what: `tarball ${tb.url}` },
        opts.cacheDir,
      ),
    );
  }
  const d = recipe.debian;
  const debs =
    d === undefined
      ? new Map<DebPackage, string>()
      : await fetchPackages(d.mirror, d.packages, opts.cacheDir);
  const buildDebs =
    d === undefined || d.buildPackages.length === 0
      ? new Map<DebPackage, string>()
      : await fetchPackages(d.mirror, d.buildPackages, opts.cacheDir);
  lap('fetch');

  await mkdir(opts.outDir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), `tee-image-${recipe.name}-`));
  try {
    // 2. Helpers, compiled with the recipe's compiler (or reused: same sources, same compiler).
    const helperDir = join(work, 'helpers');
    const reuse = opts.reuse ?? true;
    const reused = { helpers: false, rootfs: false };
    const tool = d === undefined ? '' : await mmdebstrapVersion();
    if (recipe.helpers.length > 0) {
      const sources = recipe.helpers.map((h) => ({
        name: basename(h.into),
        file: join(opts.root, h.source),
      }));
      const names = sources.map((s) => s.name);
      const key = reuseKey('helpers', {
        suite: d!.suite,
        architecture: d!.architecture,
        buildPackages: d!.buildPackages.map((p) => p.sha256),
        cflags: HELPER_CFLAGS,
        sources: await Promise.all(
          sources.map(async (s) => ({ name: s.name, sha256: await sha256File(s.file) })),
        ),
        sourceDateEpoch: recipe.sourceDateEpoch,
        tool,
      });
      reused.helpers = reuse && (await reusedHelpers(opts.cacheDir, key, names, helperDir));
      if (reused.helpers) log('helpers: reusing the ones compiled from the same inputs');
      else {
        log('compiling helpers');
        await compileHelpers(recipe, buildDebs, sources, work, helperDir);
        if (reuse) await keepHelpers(opts.cacheDir, key, names, helperDir);
      }
    }
    lap('helpers');

    // 3. The root file system (or the one made from the same checked packages, if it matches
    //    its recorded member digest).
    const members = new Map<string, CpioMember>();
    const put = (m: CpioMember) => members.set(m.path, m);
    if (d !== undefined) {
      const key = reuseKey('rootfs', {
        format: IMAGE_BUILD_FORMAT,
        suite: d.suite,
        mirror: d.mirror,
        architecture: d.architecture,
        packages: d.packages.map((p) => [p.name, p.version, p.architecture, p.sha256]),
        sourceDateEpoch: recipe.sourceDateEpoch,
        tool,
        options: ROOTFS_OPTIONS,
      });
      let tree: CpioMember[] | undefined;
      const recorded = reuse ? await rootfsManifest(opts.cacheDir, key) : undefined;
      if (recorded !== undefined) {
        const cached = await treeMembers(rootfsEntry(opts.cacheDir, key).tree, 'rootfs');
        if ((await membersDigest(cached)) === recorded) {
          tree = cached;
          reused.rootfs = true;
          log('root file system: reusing the tree made from the same packages');
        } else await dropRootfs(opts.cacheDir, key);
      }
      if (tree === undefined) {
        log(`mmdebstrap ${d.suite}: ${d.packages.length} packages`);
        if (reuse) {
          const partial = await rootfsPartial(opts.cacheDir, key);
          try {
            await debianRootfs(recipe, debs, work, join(partial, 'tree'));
            const made = await treeMembers(join(partial, 'tree'), 'rootfs');
            const kept = await keepRootfs(opts.cacheDir, key, partial, await membersDigest(made));
            tree = await treeMembers(kept, 'rootfs');
          } finally {
            await rm(partial, { recursive: true, force: true });
          }
        } else {
          await debianRootfs(recipe, debs, work, join(work, 'rootfs'));
          tree = await treeMembers(join(work, 'rootfs'), 'rootfs');
        }
      }
      for (const m of tree) put(m);
    }
    lap('rootfs');

    // 4. Overlays: owned by root whoever builds, modes from the tarball or the recipe.
    for (const [i, tb] of recipe.tarballs.entries()) {
      const dir = join(work, `tarball-${i}`);
      await mkdir(dir, { recursive: true });
      await runTool('tar', [
        '-x',
        '--no-same-owner',
        '-p',
        `--strip-components=${tb.stripComponents}`,
        '-f',
        tarballs[i]!,
        '-C',
        dir,
      ]);
      for (const m of [...ancestors(`${tb.into}/x`)]) if (!members.has(m.path)) put(m);
      for (const m of await treeMembers(dir, `rootfs${tb.into}`)) put({ ...m, uid: 0, gid: 0 });
    }
    const addFile = (abs: string, perm: number, data: CpioMember['data']) => {
      for (const m of ancestors(abs)) if (!members.has(m.path)) put(m);
      put({ path: `rootfs${abs}`, mode: S_IFREG | perm, uid: 0, gid: 0, data });
    };
    if (recipe.worker !== undefined) {
      log('bundling the worker');
      addFile(recipe.worker.into, 0o644, await bundleWorker(opts.root, recipe.worker));
      const descriptor = {
        name: recipe.name,
        version: recipe.version,
        language: recipe.language,
        toolchain: recipe.toolchain,
      };
      addFile(
        `${dirname(recipe.worker.into)}/image.json`,
        0o644,
        enc.encode(JSON.stringify(descriptor, null, 2) + '\n'),
      );
    }
    for (const h of recipe.helpers) {
      const bin = join(helperDir, basename(h.into));
      addFile(h.into, parseInt(h.mode, 8), () => readFile(bin));
    }
    for (const f of recipe.files) {
      const src = join(opts.root, f.source);
      addFile(f.path, parseInt(f.mode, 8), () => readFile(src));
    }
    for (const l of recipe.links) {
      for (const m of ancestors(l.path)) if (!members.has(m.path)) put(m);
      put({
        path: `rootfs${l.path}`,
        mode: S_IFLNK | 0o777,
        uid: 0,
        gid: 0,
        data: enc.encode(l.target),
      });
    }
    lap('overlay');

    // 5. Ramdisks and the EIF.
    log('writing ramdisks');
    const bootstrap = join(work, 'bootstrap.cpio');
    const customer = join(work, 'customer.cpio');
    const mtime = recipe.sourceDateEpoch;
    const boot = await writeCpioFile(
      bootstrapMembers(blobs.init.path, blobs.nsm.path),
      mtime,
      bootstrap,
    );
    const cust = await writeCpioFile(
      customerMembers([...members.values()], recipe.cmd, recipe.env),
      mtime,
      customer,
    );
    lap('ramdisks');
    const eif = join(opts.outDir, `${recipe.name}-${recipe.version}.eif`);
    log(`writing ${eif}`);
    await writeEifFile(eif, {
      kernel: fileSection(blobs.kernel.path, blobs.kernel.size),
      cmdline: await readCmdline(blobs.cmdline),
      metadata: {
        ImageName: recipe.name,
        ImageVersion: recipe.version,
        BuildMetadata: {
          BuildTime: new Date(recipe.sourceDateEpoch * 1000).toISOString(),
          BuildTool: IMAGE_BUILD_TOOL,
          BuildToolVersion: IMAGE_BUILD_FORMAT,
          OperatingSystem: 'Linux',
          KernelVersion: recipe.blobs.kernelVersion,
        },
        DockerInfo: null,
        CustomMetadata: { recipeSha256 },
      },
      ramdisks: [fileSection(bootstrap, boot.size), fileSection(customer, cust.size)],
    });
    const { measurements } = await describeEifFile(eif);
    const { sha256, bytes } = await hashFile(eif);
    const result: BuiltImage = {
      name: recipe.name,
      version: recipe.version,
      eif,
      sha256,
      size: bytes,
      pcr0: measurements.pcr0,
      pcr1: measurements.pcr1,
      pcr2: measurements.pcr2,
      recipeSha256,
      ramdisks: { bootstrap: boot.sha256, customer: cust.sha256 },
      timings,
      reused,
    };
    lap('eif');
    await writeFile(`${eif}.json`, JSON.stringify(result, null, 2) + '\n');
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
