/**
 * The toolchain a build uses: versions and SHA-256 of the binaries that actually run, resolved
 * past wrappers (rustup proxies, npm's bin symlink). Node only.
 */
import { access, constants, readFile, realpath } from 'node:fs/promises';
import { basename, delimiter, dirname, join } from 'node:path';
import { provenanceError } from './errors.js';
import { firstLine, runTool } from './exec.js';
import type { Language } from './lockfile/parse.js';
import type { ToolchainComponent } from './types.js';
import { sha256File } from '../util/node.js';

/** The first executable named `cmd` on the PATH of `env`, or null. */
export async function which(cmd: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

function notFound(what: string, why: string): never {
  throw provenanceError('TOOLCHAIN_NOT_FOUND', `${what}: ${why}`, what);
}

async function output(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  let r;
  try {
    r = await runTool(cmd, args, { env });
  } catch (err) {
    notFound(cmd, `cannot run: ${(err as Error).message}`);
  }
  if (r.code !== 0)
    notFound(
      cmd,
      `\`${[cmd, ...args].join(' ')}\` failed: ${firstLine(r.stderr) || `exit ${r.code}`}`,
    );
  return r.stdout.toString('utf8').trim();
}

async function component(
  name: string,
  binary: string,
  versionArgs: string[],
  env: NodeJS.ProcessEnv,
  runWith?: string,
  versionOf?: (path: string) => Promise<string | null>,
): Promise<ToolchainComponent> {
  let path: string;
  try {
    path = await realpath(binary);
    await access(path, constants.R_OK);
  } catch {
    notFound(name, `${binary} does not exist`);
  }
  const version =
    (await versionOf?.(path)) ?? firstLine(await output(runWith ?? path, versionArgs, env));
  return { name, version, sha256: await sha256File(path), path };
}

/**
 * npm's version as `npm --version` prints it: the `version` of the package.json of the npm whose
 * bin/npm-cli.js runs (starting npm to ask takes a fifth of a second of CPU beside the build).
 * Null when the file is not laid out so, then npm is asked.
 */
async function npmVersion(cli: string): Promise<string | null> {
  if (basename(cli) !== 'npm-cli.js') return null;
  try {
    const pkg = JSON.parse(
      await readFile(join(dirname(dirname(cli)), 'package.json'), 'utf8'),
    ) as unknown;
    if (typeof pkg !== 'object' || pkg === null) return null;
    const { name, version } = pkg as { name?: unknown; version?: unknown };
    return name === 'npm' && typeof version === 'string' && /^\d+\.\d+\.\d+\S*$/.test(version)
      ? version
      : null;
  } catch {
    return null;
  }
}

/**
 * Detects the toolchain of `language` on the PATH of `env`: rust -> rustc and cargo of the
 * active toolchain (`rustc --print sysroot`, so rustup's proxies are looked through), node ->
 * node and npm (npm is a script: its entry file is hashed), go -> `$(go env GOROOT)/bin/go`.
 * Throws TOOLCHAIN_NOT_FOUND.
 */
export async function detectToolchain(
  language: Language,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ToolchainComponent[]> {
  const need = async (cmd: string): Promise<string> =>
    (await which(cmd, env)) ?? notFound(cmd, 'not found on PATH');
  switch (language) {
    case 'rust': {
      const sysroot = await output(await need('rustc'), ['--print', 'sysroot'], env);
      const rustc = await component('rustc', join(sysroot, 'bin', 'rustc'), ['--version'], env);
      const cargo = await component('cargo', join(sysroot, 'bin', 'cargo'), ['--version'], env);
      return [cargo, rustc];
    }
    case 'node': {
      const node = await component('node', await need('node'), ['--version'], env);
      // npm's bin entry is a symlink to bin/npm-cli.js: the script node runs.
      const npmBin = await need('npm');
      const npm = await component('npm', npmBin, ['--version'], env, npmBin, npmVersion);
      return [node, npm];
    }
    case 'go': {
      const goroot = await output(await need('go'), ['env', 'GOROOT'], env);
      return [await component('go', join(goroot, 'bin', 'go'), ['version'], env)];
    }
  }
}
