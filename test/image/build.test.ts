/**
 * `tee-compile image build|reproduce` on a recipe without Debian packages (no mmdebstrap): the
 * cpio/EIF layers, pinned downloads, blobs, determinism, describe-eif agreement, ramdisk layout,
 * and naming the member that changed. The full `minimal` build is in test/long/image-minimal.
 * The kernel is a stand-in file (the real bzImage cannot be fetched here).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeSimulatedPcrs } from '../../src/catalog/index.js';
import type { ImageEntry } from '../../src/catalog/index.js';
import { buildImage, reproduceImage } from '../../src/image/index.js';
import type { BuiltImage } from '../../src/image/index.js';
import { runCli } from '../support/cli/cli.js';
import type { FileServer } from '../support/nitro/image-recipe.js';
import {
  RUN_SH,
  blobsDir,
  fileServer,
  imageRoot,
  makeTar,
  sha256,
  tinyRecipe,
} from '../support/nitro/image-recipe.js';
import '../support/matchers.js';

let server: FileServer;
let blobs: string;
let tar: Uint8Array;
let root: string;
let cache: string;
const cleanup: string[] = [];

beforeAll(async () => {
  server = await fileServer();
  blobs = await blobsDir();
  tar = await makeTar({ 'bin/hello': '#!/bin/sh\necho hello\n', 'share/data.txt': 'data\n' });
  server.files.set('/tool.tar', tar);
  root = await imageRoot(tinyRecipe(`${server.url}/tool.tar`, sha256(tar)), {
    'enclave/images/tiny/run.sh': RUN_SH,
  });
  cache = await mkdtemp(join(tmpdir(), 'image-cache-'));
  cleanup.push(blobs, root, cache);
});
afterAll(async () => {
  await server.close();
  for (const d of cleanup) await rm(d, { recursive: true, force: true });
});

async function out(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'image-out-'));
  cleanup.push(d);
  return d;
}

const build = async (r = root, c = cache) =>
  buildImage({ root: r, name: 'tiny', outDir: await out(), blobsDir: blobs, cacheDir: c });

/** Sections of an EIF read independently of src/eif (header layout: EIF v4, big-endian). */
function sections(eif: Uint8Array): { type: number; data: Uint8Array }[] {
  const v = new DataView(eif.buffer, eif.byteOffset, eif.byteLength);
  const n = v.getUint16(26);
  const out: { type: number; data: Uint8Array }[] = [];
  for (let i = 0; i < n; i++) {
    const off = Number(v.getBigUint64(28 + 8 * i));
    const size = Number(v.getBigUint64(28 + 256 + 8 * i));
    out.push({ type: v.getUint16(off), data: eif.subarray(off + 12, off + 12 + size) });
  }
  return out;
}

/** PCR = SHA-384(48 zero bytes ‖ SHA-384(measured bytes)), as the Nitro hypervisor extends. */
function pcr(parts: Uint8Array[]): string {
  const inner = createHash('sha384');
  for (const p of parts) inner.update(p);
  return createHash('sha384').update(Buffer.alloc(48)).update(inner.digest()).digest('hex');
}

function cpioList(archive: Uint8Array): string[] {
  return execFileSync('cpio', ['-t', '--quiet'], { input: archive })
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

describe('image build without Debian packages', () => {
  let first: BuiltImage;
  beforeAll(async () => {
    first = await build();
  });

  it('when built twice in two folders at different times (inputs touched between), it gives the same EIF bytes and PCRs', async () => {
    await utimes(join(root, 'enclave/images/tiny/run.sh'), new Date(), new Date(2001, 1, 1));
    await new Promise((r) => setTimeout(r, 1100));
    const cache2 = await mkdtemp(join(tmpdir(), 'image-cache2-'));
    cleanup.push(cache2);
    const second = await build(root, cache2);
    expect(second.eif).not.toBe(first.eif);
    expect(second.sha256).toBe(first.sha256);
    expect([second.pcr0, second.pcr1, second.pcr2]).toEqual([first.pcr0, first.pcr1, first.pcr2]);
    expect(sha256(await readFile(second.eif))).toBe(sha256(await readFile(first.eif)));
  });

  it('when described with tee-compile eif describe, its PCRs agree with an independent computation', async () => {
    const r = await runCli(['eif', 'describe', '--json', first.eif]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { Measurements: Record<string, string> };
    const s = sections(await readFile(first.eif));
    expect(s.map((x) => x.type)).toEqual([1, 2, 5, 3, 3]); // kernel, cmdline, metadata, 2 ramdisks
    const [kernel, cmdline, , bootstrap, customer] = s.map((x) => x.data);
    expect(d.Measurements['PCR0']).toBe(pcr([kernel!, cmdline!, bootstrap!, customer!]));
    expect(d.Measurements['PCR1']).toBe(pcr([kernel!, cmdline!, bootstrap!]));
    expect(d.Measurements['PCR2']).toBe(pcr([customer!]));
    expect(d.Measurements['PCR0']).toBe(first.pcr0);
    // nitro-cli trims the cmdline blob's trailing newline.
    const blob = await readFile(join(blobs, 'cmdline'), 'utf8');
    expect(Buffer.from(cmdline!).toString('utf8')).toBe(blob.trim());
  });

  it('when its ramdisks are listed by GNU cpio, they hold the members nitro-cli puts there', async () => {
    const s = sections(await readFile(first.eif));
    expect(cpioList(s[3]!.data)).toEqual(['dev', 'init', 'nsm.ko']);
    const customer = cpioList(s[4]!.data);
    expect(customer).toEqual([
      'cmd',
      'env',
      'rootfs',
      'rootfs/dev',
      'rootfs/opt',
      'rootfs/opt/tool',
      'rootfs/opt/tool/bin',
      'rootfs/opt/tool/bin/hello',
      'rootfs/opt/tool/share',
      'rootfs/opt/tool/share/data.txt',
      'rootfs/proc',
      'rootfs/run',
      'rootfs/sys',
      'rootfs/tmp',
      'rootfs/usr',
      'rootfs/usr/local',
      'rootfs/usr/local/bin',
      'rootfs/usr/local/bin/run',
      'rootfs/var',
    ]);
    const extract = (member: string, archive: Uint8Array) =>
      execFileSync('cpio', ['-i', '--quiet', '--to-stdout', member], { input: archive });
    expect(extract('cmd', s[4]!.data).toString()).toBe('/usr/local/bin/run\n--flag\n');
    expect(extract('env', s[4]!.data).toString()).toBe(
      'PATH=/usr/local/bin:/usr/bin:/bin\nHOME=/tmp\n',
    );
    expect(sha256(extract('init', s[3]!.data))).toBe(
      '755e650b732777b798cb9ec243ee402bef4826f789cf01a1e453bb724207c005',
    );
    // Fixed owner, time and inode numbers, whoever builds and whenever.
    const verbose = execFileSync('cpio', ['-tv', '--quiet', '--numeric-uid-gid'], {
      input: s[3]!.data,
      env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' },
    }).toString();
    expect(verbose).toMatch(/^drwxr-xr-x +2 0 +0 +0 Dec 29 {2}2025 dev$/m);
    expect(verbose).toMatch(/^-rwxr-xr-x +1 0 +0 +\d+ Dec 29 {2}2025 init$/m);
  });

  describe('when one tarball byte changes', () => {
    let changedRoot: string;
    beforeAll(async () => {
      const changed = Uint8Array.from(tar);
      const at = Buffer.from(changed).indexOf('echo hello');
      changed[at + 5] = 'j'.charCodeAt(0); // echo jello
      server.files.set('/tool-changed.tar', changed);
      changedRoot = await imageRoot(tinyRecipe(`${server.url}/tool-changed.tar`, sha256(changed)), {
        'enclave/images/tiny/run.sh': RUN_SH,
      });
      cleanup.push(changedRoot);
    });

    it('PCR2 changes, PCR1 does not, and reproduce names the member with both digests', async () => {
      const catalogDir = await out();
      const entry: ImageEntry = {
        name: 'tiny',
        version: '1.0.0',
        language: 'node',
        toolchain: { tool: '1' },
        recipe: { 'enclave/images/tiny/recipe.json': first.recipeSha256 },
        pcrs: { pcr0: first.pcr0, pcr1: first.pcr1, pcr2: first.pcr2 },
        eif: { sha256: first.sha256, size: first.size, url: 'https://images.invalid/tiny.eif' },
        simulated: { pcr0: '0'.repeat(96), pcr1: '0'.repeat(96), pcr2: '0'.repeat(96) },
      };
      entry.simulated = await computeSimulatedPcrs(entry);
      const catalog = join(catalogDir, 'images.json');
      await writeFile(catalog, JSON.stringify({ schemaVersion: 1, images: [entry] }));

      const same = await reproduceImage({
        root,
        name: 'tiny',
        outDir: await out(),
        blobsDir: blobs,
        cacheDir: cache,
        catalogPath: catalog,
      });
      expect(same.ok).toBe(true);

      const r = await reproduceImage({
        root: changedRoot,
        name: 'tiny',
        outDir: await out(),
        blobsDir: blobs,
        cacheDir: cache,
        catalogPath: catalog,
        referenceEif: first.eif,
      });
      expect(r.ok).toBe(false);
      expect(r.built.pcr1).toBe(first.pcr1);
      expect(r.built.pcr2).not.toBe(first.pcr2);
      expect(r.difference).toEqual({
        section: 'customer',
        path: 'rootfs/opt/tool/bin/hello',
        expected: sha256('#!/bin/sh\necho hello\n'),
        actual: sha256('#!/bin/sh\necho jello\n'),
      });

      const cli = await runCli([
        'image',
        'reproduce',
        'tiny',
        '--root',
        changedRoot,
        '--blobs',
        blobs,
        '--cache',
        cache,
        '--out',
        await out(),
        '--catalog',
        catalog,
        '--eif',
        first.eif,
      ]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toContain('rootfs/opt/tool/bin/hello');
      expect(cli.stderr).toContain(sha256('#!/bin/sh\necho jello\n'));
      expect(cli.stderr).toContain('[REPRODUCE_MISMATCH]');
    });
  });

  it('when tee-compile image build runs, it prints the EIF, its SHA-256 and the PCRs (--json: one object)', async () => {
    const dir = await out();
    const r = await runCli([
      'image',
      'build',
      'tiny',
      '--root',
      root,
      '--blobs',
      blobs,
      '--cache',
      cache,
      '--out',
      dir,
      '--json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as BuiltImage;
    expect(j.eif).toBe(join(dir, 'tiny-1.0.0.eif'));
    expect([j.sha256, j.pcr0, j.pcr1, j.pcr2]).toEqual([
      first.sha256,
      first.pcr0,
      first.pcr1,
      first.pcr2,
    ]);
    const text = await runCli([
      'image',
      'build',
      'tiny',
      '--root',
      root,
      '--blobs',
      blobs,
      '--cache',
      cache,
      '--out',
      dir,
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`PCR2    ${first.pcr2}`);
  });
});

describe('image build refusals', () => {
  it('when a tarball digest is wrong, it is refused (DIGEST_MISMATCH naming the URL) before any package is fetched or anything is built', async () => {
    const recipe = {
      ...tinyRecipe(`${server.url}/tool.tar`, 'ab'.repeat(32)),
      debian: {
        suite: 'trixie',
        mirror: `${server.url}/debian`,
        architecture: 'amd64',
        include: ['hello'],
        packages: [
          {
            name: 'hello',
            version: '1.0-1',
            architecture: 'amd64',
            filename: 'pool/main/h/hello/hello_1.0-1_amd64.deb',
            sha256: 'cd'.repeat(32),
          },
        ],
      },
    };
    const r = await imageRoot(recipe, { 'enclave/images/tiny/run.sh': RUN_SH });
    cleanup.push(r);
    const dir = join(await out(), 'never');
    server.requests.length = 0;
    const cli = await runCli([
      'image',
      'build',
      'tiny',
      '--root',
      r,
      '--blobs',
      blobs,
      '--cache',
      await out(),
      '--out',
      dir,
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('[DIGEST_MISMATCH]');
    expect(cli.stderr).toContain(`${server.url}/tool.tar`);
    expect(server.requests).toEqual(['/tool.tar']);
    expect(existsSync(dir)).toBe(false);
  });

  it('when a mirror serves other bytes for a package, it is refused naming the package', async () => {
    const deb = new TextEncoder().encode('not the pinned package');
    server.files.set('/debian/pool/main/h/hello/hello_1.0-1_amd64.deb', deb);
    const recipe = {
      ...tinyRecipe(`${server.url}/tool.tar`, sha256(tar)),
      debian: {
        suite: 'trixie',
        mirror: `${server.url}/debian`,
        architecture: 'amd64',
        include: ['hello'],
        packages: [
          {
            name: 'hello',
            version: '1.0-1',
            architecture: 'amd64',
            filename: 'pool/main/h/hello/hello_1.0-1_amd64.deb',
            sha256: 'cd'.repeat(32),
          },
        ],
      },
    };
    const r = await imageRoot(recipe, { 'enclave/images/tiny/run.sh': RUN_SH });
    cleanup.push(r);
    await expect(build(r, await out())).rejects.toHaveCode('DIGEST_MISMATCH');
    const cli = await runCli([
      'image',
      'build',
      'tiny',
      '--root',
      r,
      '--blobs',
      blobs,
      '--cache',
      await out(),
      '--out',
      await out(),
    ]);
    expect(cli.stderr).toContain('package hello=1.0-1');
  });

  it('when a download is missing, it is refused with DOWNLOAD_FAILED', async () => {
    const r = await imageRoot(tinyRecipe(`${server.url}/absent.tar`, sha256(tar)), {
      'enclave/images/tiny/run.sh': RUN_SH,
    });
    cleanup.push(r);
    await expect(build(r, await out())).rejects.toHaveCode('DOWNLOAD_FAILED');
  });

  it('when a cached file was damaged, it is fetched again and checked', async () => {
    const c = await out();
    await build(root, c);
    const cached = join(c, 'sha256', sha256(tar));
    await writeFile(cached, 'damaged');
    const again = await build(root, c);
    expect(sha256(await readFile(cached))).toBe(sha256(tar));
    expect(again.pcr2).toBeDefined();
  });

  it('when a boot blob is missing or differs, it is refused (BLOB_MISSING, DIGEST_MISMATCH)', async () => {
    const b = await blobsDir();
    cleanup.push(b);
    await writeFile(join(b, 'nsm.ko'), 'other module');
    await expect(
      buildImage({ root, name: 'tiny', outDir: await out(), blobsDir: b, cacheDir: cache }),
    ).rejects.toHaveCode('DIGEST_MISMATCH');
    await rm(join(b, 'init'));
    await expect(
      buildImage({ root, name: 'tiny', outDir: await out(), blobsDir: b, cacheDir: cache }),
    ).rejects.toHaveCode('BLOB_MISSING');
  });

  it('when the tarball is not an archive (but pinned), tar fails and the build is refused (TOOL_FAILED)', async () => {
    const junk = new TextEncoder().encode('not a tar archive at all');
    server.files.set('/junk.tar', junk);
    const r = await imageRoot(tinyRecipe(`${server.url}/junk.tar`, sha256(junk)), {
      'enclave/images/tiny/run.sh': RUN_SH,
    });
    cleanup.push(r);
    await expect(build(r, await out())).rejects.toHaveCode('TOOL_FAILED');
  });

  it('when the recipe is not JSON, invalid, or absent, it is refused (RECIPE_UNREADABLE, RECIPE_INVALID, IMAGE_NOT_FOUND)', async () => {
    const bad = await imageRoot({ name: 'tiny' });
    cleanup.push(bad);
    await expect(build(bad, cache)).rejects.toHaveCode('RECIPE_INVALID');
    await writeFile(join(bad, 'enclave/images/tiny/recipe.json'), '{');
    await expect(build(bad, cache)).rejects.toHaveCode('RECIPE_UNREADABLE');
    await expect(
      buildImage({ root, name: 'absent', outDir: await out(), blobsDir: blobs, cacheDir: cache }),
    ).rejects.toHaveCode('IMAGE_NOT_FOUND');
    const helpers = await imageRoot({
      ...tinyRecipe(`${server.url}/tool.tar`, sha256(tar)),
      helpers: [{ source: 'x.c', into: '/usr/local/bin/x', mode: '0700' }],
    });
    cleanup.push(helpers);
    await expect(build(helpers, cache)).rejects.toHaveCode('RECIPE_INVALID');
    const cli = await runCli(['image', 'build']);
    expect(cli.code).toBe(2);
  });
});
