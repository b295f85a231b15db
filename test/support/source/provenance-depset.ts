/**
 * Real package sources for dependency-set tests: a loopback sparse Cargo registry serving crates
 * made with `cargo package`, Go module zips in a `GOPROXY=file://` directory, and a way to run a
 * build with no network (a fresh network namespace when the kernel lets us make one).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tempDir, writeFiles } from './provenance-git.js';

/** Whether `unshare -n` works here (root, or unprivileged user namespaces). */
export const CAN_UNSHARE_NET = spawnSync('unshare', ['-n', 'true']).status === 0;

/**
 * Runs a command with no network: in a new network namespace (only a down loopback) when
 * possible; the tools are told to stay offline either way.
 */
export function runOffline(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): SpawnSyncReturns<string> {
  const [c, a] = CAN_UNSHARE_NET ? ['unshare', ['-n', cmd, ...args]] : [cmd, args];
  return spawnSync(c, a, { cwd: opts.cwd, env: opts.env, encoding: 'utf8', timeout: 300_000 });
}

/** Packages a crate with real cargo; returns the .crate path and its sha256. */
export function makeCrate(
  name: string,
  version: string,
  lib: string,
): { file: string; sha256: string } {
  const dir = join(tempDir('prov-crate-'), name);
  writeFiles(dir, {
    'Cargo.toml': `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\ndescription = "test crate"\nlicense = "MIT"\n\n[dependencies]\n`,
    'src/lib.rs': lib,
  });
  execFileSync('cargo', ['package', '--allow-dirty', '--no-verify', '--quiet'], {
    cwd: dir,
    stdio: 'pipe',
  });
  const file = join(dir, 'target', 'package', `${name}-${version}.crate`);
  return { file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}

/** The sparse-index path of a crate name (Cargo Book, "Registry Index": index files). */
function indexPath(name: string): string {
  const n = name.toLowerCase();
  if (n.length <= 2) return `${n.length}/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

export interface CargoRegistry {
  /** cargo config.toml that replaces crates.io with this registry. */
  config: string;
  /** Served bytes per crate file name; tests may swap them. */
  files: Map<string, Buffer>;
  close(): Promise<void>;
}

/** Serves crates as a sparse registry on 127.0.0.1, standing in for crates.io. */
export async function startCargoRegistry(
  crates: { name: string; version: string; file: string }[],
): Promise<CargoRegistry> {
  const files = new Map<string, Buffer>();
  const index = new Map<string, string>();
  for (const c of crates) {
    const bytes = readFileSync(c.file);
    files.set(`${c.name}-${c.version}.crate`, bytes);
    const line = JSON.stringify({
      name: c.name,
      vers: c.version,
      deps: [],
      cksum: createHash('sha256').update(bytes).digest('hex'),
      features: {},
      yanked: false,
    });
    const p = indexPath(c.name);
    index.set(p, `${index.get(p) ?? ''}${line}\n`);
  }
  let base = '';
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/index/config.json') {
      res.end(JSON.stringify({ dl: `${base}/crates/{crate}-{version}.crate` }));
      return;
    }
    const idx = index.get(url.replace(/^\/index\//, ''));
    if (url.startsWith('/index/') && idx !== undefined) {
      res.end(idx);
      return;
    }
    const crate = files.get(url.replace(/^\/crates\//, ''));
    if (url.startsWith('/crates/') && crate !== undefined) {
      res.end(crate);
      return;
    }
    res.statusCode = 404;
    res.end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    config: `[source.crates-io]\nreplace-with = "loopback"\n\n[source.loopback]\nregistry = "sparse+${base}/index/"\n`,
    files,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Writes a zip with the given entries (python's zipfile: a real, independent zip writer). */
export function writeZip(file: string, entries: Record<string, string>): void {
  const script =
    'import json,sys,zipfile\n' +
    'z=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED)\n' +
    'for k,v in sorted(json.load(sys.stdin).items()): z.writestr(zipfile.ZipInfo(k,(1980,1,1,0,0,0)),v)\n' +
    'z.close()\n';
  execFileSync('python3', ['-c', script, file], { input: JSON.stringify(entries) });
}

/**
 * Adds module `path@version` to a GOPROXY directory: the zip in the module zip layout
 * (`<module>@<version>/<file>`), the go.mod, and the `.info`/`list` files.
 */
export function addGoModule(
  proxy: string,
  path: string,
  version: string,
  files: Record<string, string>,
): void {
  const esc = (s: string): string => s.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  const dir = join(proxy, esc(path), '@v');
  mkdirSync(dir, { recursive: true });
  const prefixed: Record<string, string> = {};
  for (const [k, v] of Object.entries(files)) prefixed[`${path}@${version}/${k}`] = v;
  writeZip(join(dir, `${esc(version)}.zip`), prefixed);
  writeFileSync(join(dir, `${esc(version)}.mod`), files['go.mod'] ?? `module ${path}\n`);
  writeFileSync(join(dir, `${esc(version)}.info`), JSON.stringify({ Version: version }));
  writeFileSync(join(dir, 'list'), `${version}\n`);
}
