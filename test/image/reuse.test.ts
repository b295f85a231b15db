/**
 * What a warm build reuses (compiled helpers, the Debian root file system), and only when it still
 * matches its manifest; the refusal of a Debian build by another user than root (ROOT_REQUIRED);
 * symbolic links a recipe adds. The reuse in a real mmdebstrap build is in
 * test/long/image-minimal.test.ts (its warm build reuses both).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, readCpio, treeMembers } from '../../src/image/index.js';
import {
  keepHelpers,
  keepRootfs,
  membersDigest,
  reuseKey,
  reusedHelpers,
  rootfsEntry,
  rootfsManifest,
  rootfsPartial,
} from '../../src/image/reuse.js';
import { describeEifFile } from '../../src/eif/node.js';
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

const dirs: string[] = [];
const temp = async (p: string) => {
  const d = await mkdtemp(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
let server: FileServer;
let blobs: string;
let tarSha: string;

beforeAll(async () => {
  server = await fileServer();
  const tar = await makeTar({ 'bin/hello': '#!/bin/sh\necho hello\n' });
  server.files.set('/tool.tar', tar);
  tarSha = sha256(tar);
  blobs = await blobsDir();
  dirs.push(blobs);
});
afterAll(async () => {
  await server.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('reuse of built products', () => {
  it('when any input of a product changes, its key changes', () => {
    const inputs = { packages: [['a', '1', 'amd64', 'ab'.repeat(32)]], sourceDateEpoch: 1 };
    const k = reuseKey('rootfs', inputs);
    expect(reuseKey('rootfs', { ...inputs })).toBe(k);
    expect(reuseKey('rootfs', { ...inputs, sourceDateEpoch: 2 })).not.toBe(k);
    expect(
      reuseKey('rootfs', { ...inputs, packages: [['a', '2', 'amd64', 'ab'.repeat(32)]] }),
    ).not.toBe(k);
    expect(reuseKey('helpers', inputs)).not.toBe(k);
  });

  it('when cached helpers match their manifest they are reused, and when one was altered they are not (and are dropped)', async () => {
    const cache = await temp('reuse-cache-');
    const made = await temp('reuse-made-');
    await writeFile(join(made, 'tee-nsm'), 'nsm binary');
    await writeFile(join(made, 'tee-jail'), 'jail binary');
    const names = ['tee-nsm', 'tee-jail'];
    const key = reuseKey('helpers', { x: 1 });
    expect(await reusedHelpers(cache, key, names, await temp('reuse-out-'))).toBe(false);
    await keepHelpers(cache, key, names, made);
    const out = await temp('reuse-out-');
    expect(await reusedHelpers(cache, key, names, out)).toBe(true);
    expect(await readFile(join(out, 'tee-jail'), 'utf8')).toBe('jail binary');
    await writeFile(join(cache, 'helpers', key, 'tee-jail'), 'altered');
    expect(await reusedHelpers(cache, key, names, await temp('reuse-out-'))).toBe(false);
    expect(existsSync(join(cache, 'helpers', key))).toBe(false);
  });

  it('when a cached tree is altered (content, mode, or an added file), its member digest no longer matches the manifest', async () => {
    const cache = await temp('reuse-cache-');
    const key = reuseKey('rootfs', { y: 1 });
    expect(await rootfsManifest(cache, key)).toBeUndefined();
    const partial = await rootfsPartial(cache, key);
    await mkdir(join(partial, 'tree', 'etc'), { recursive: true });
    await writeFile(join(partial, 'tree', 'etc', 'hostname'), 'enclave\n');
    const digest = await membersDigest(await treeMembers(join(partial, 'tree'), 'rootfs'));
    const tree = await keepRootfs(cache, key, partial, digest);
    expect(tree).toBe(rootfsEntry(cache, key).tree);
    expect(existsSync(partial)).toBe(false);
    expect(await rootfsManifest(cache, key)).toBe(digest);
    const now = async () => membersDigest(await treeMembers(tree, 'rootfs'));
    expect(await now()).toBe(digest);
    await writeFile(join(tree, 'etc', 'hostname'), 'changed\n');
    expect(await now()).not.toBe(digest);
    await writeFile(join(tree, 'etc', 'hostname'), 'enclave\n');
    expect(await now()).toBe(digest);
    const mode = (await stat(join(tree, 'etc', 'hostname'))).mode;
    await chmod(join(tree, 'etc', 'hostname'), 0o600);
    expect(await now()).not.toBe(digest);
    await chmod(join(tree, 'etc', 'hostname'), mode & 0o7777);
    expect(await now()).toBe(digest);
    await writeFile(join(tree, 'etc', 'extra'), '');
    expect(await now()).not.toBe(digest);
  });
});

describe('who may build', () => {
  it('when a recipe with Debian packages is built by another user than root, it is refused (ROOT_REQUIRED) before anything is fetched', async () => {
    const recipe = {
      ...tinyRecipe(`${server.url}/tool.tar`, tarSha),
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
    const root = await imageRoot(recipe, { 'enclave/images/tiny/run.sh': RUN_SH });
    dirs.push(root);
    server.requests.length = 0;
    const opts = {
      root,
      name: 'tiny',
      outDir: await temp('reuse-out-'),
      blobsDir: blobs,
      cacheDir: await temp('reuse-cache-'),
    };
    await expect(buildImage({ ...opts, uid: 1000 })).rejects.toHaveCode('ROOT_REQUIRED');
    expect(server.requests).toEqual([]);
    // A recipe without Debian packages builds as any user.
    const plain = await imageRoot(tinyRecipe(`${server.url}/tool.tar`, tarSha), {
      'enclave/images/tiny/run.sh': RUN_SH,
    });
    dirs.push(plain);
    const built = await buildImage({ ...opts, root: plain, uid: 1000 });
    expect(built.reused).toEqual({ helpers: false, rootfs: false });
  });
});

describe('recipe links', () => {
  it('when a recipe names links, the customer ramdisk holds them as root-owned symlinks to their targets', async () => {
    const root = await imageRoot(
      {
        ...tinyRecipe(`${server.url}/tool.tar`, tarSha),
        links: [{ path: '/opt/tool/bin/hi', target: 'hello' }],
      },
      { 'enclave/images/tiny/run.sh': RUN_SH },
    );
    dirs.push(root);
    const built = await buildImage({
      root,
      name: 'tiny',
      outDir: await temp('reuse-out-'),
      blobsDir: blobs,
      cacheDir: await temp('reuse-cache-'),
    });
    const eif = await readFile(built.eif);
    const customer = (await describeEifFile(built.eif)).sections.filter(
      (s) => s.type === 'ramdisk',
    )[1]!;
    const members = readCpio(
      eif.subarray(customer.offset + 12, customer.offset + 12 + customer.size),
    );
    const link = members.find((m) => m.path === 'rootfs/opt/tool/bin/hi')!;
    expect(link.mode).toBe(0o120777);
    expect([link.uid, link.gid]).toEqual([0, 0]);
    expect(new TextDecoder().decode(link.data)).toBe('hello');
  });
});
