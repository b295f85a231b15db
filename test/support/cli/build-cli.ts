/**
 * Runs `tee-compile build` and `tee-compile verify` in-process as a user would, with the local
 * backend running the bundled worker and a private dependency cache.
 */
import type { CliResult } from './cli.js';
import { runCli } from './cli.js';
import { cliEnv } from '../processes/sandbox-worker.js';

export interface BuildJson {
  bundle: string;
  subjects: { name: string; digest: { sha256: string } }[];
  source: { repository: string | null; commit: string; tree: string; workdir: string };
  nonce: string;
  image: { name: string; version: string; pcr0: string };
  builder: { pcr3: string };
  simulated: boolean;
}

/** `tee-compile build …` in `cwd`, with `cacheDir` as the dependency cache. */
export async function cliBuild(args: string[], cwd: string, cacheDir: string): Promise<CliResult> {
  return runCli(['build', ...args], { cwd, env: await cliEnv({ XDG_CACHE_HOME: cacheDir }) });
}

/** `tee-compile build … --json`, parsed; throws with the output when the build failed. */
export async function cliBuildJson(
  args: string[],
  cwd: string,
  cacheDir: string,
): Promise<BuildJson> {
  const r = await cliBuild([...args, '--json'], cwd, cacheDir);
  if (r.code !== 0) throw new Error(`build failed (${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as BuildJson;
}

/** `tee-compile verify <bundle> --allow-simulated --nonce … --commit …`. */
export function cliVerify(
  bundle: string,
  nonce: string,
  commit: string,
  cwd: string,
): Promise<CliResult> {
  return runCli(['verify', bundle, '--allow-simulated', '--nonce', nonce, '--commit', commit], {
    cwd,
  });
}
