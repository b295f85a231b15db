/** Running the package manager that fetches a dependency set on the host (cargo, go). Node only. */
import { provenanceError } from '../errors.js';
import { firstLine, runTool } from '../exec.js';

/** How to run a fetching tool and name its failure. */
export interface FetchToolOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** What failed, for the message (`cargo fetch`, `go mod download`). */
  label: string;
  /** The reason shown from the tool's stderr; default its first non-empty line. */
  reason?: (stderr: string) => string;
}

/**
 * Runs `cmd args` to completion. A tool that cannot be started (ENOENT, EACCES) and one that exits
 * with an error are both DEPENDENCY_FETCH_FAILED: "cannot run <cmd>: …", "<label> failed: <reason>".
 */
export async function runFetchTool(
  cmd: string,
  args: readonly string[],
  opts: FetchToolOptions,
): Promise<void> {
  const r = await runTool(cmd, args, { cwd: opts.cwd, env: opts.env }).catch((err: Error) => {
    throw provenanceError(
      'DEPENDENCY_FETCH_FAILED',
      `cannot run ${cmd}: ${err.message}`,
      undefined,
      err,
    );
  });
  if (r.code !== 0) {
    // Some tools report on stdout (`go mod download -json`): it speaks when stderr says nothing.
    const why =
      (opts.reason ?? firstLine)(r.stderr) ||
      firstLine(r.stdout.toString('utf8')) ||
      `exit status ${r.code}`;
    throw provenanceError('DEPENDENCY_FETCH_FAILED', `${opts.label} failed: ${why}`);
  }
}
