/**
 * Running the real tools (git, cargo, go, npm, rustc) as child processes, with their output
 * captured and bounded. Node only.
 */
import { spawn } from 'node:child_process';

/** Output above this is an error: none of the commands we run prints that much. */
export const MAX_TOOL_OUTPUT_BYTES = 256 * 1024 * 1024;

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface ToolOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: Uint8Array | string;
  maxOutputBytes?: number;
}

/** Runs a command to completion. Rejects only when it cannot be started (ENOENT, EACCES). */
export function runTool(
  cmd: string,
  args: readonly string[],
  opts: ToolOptions = {},
): Promise<ToolResult> {
  const max = opts.maxOutputBytes ?? MAX_TOOL_OUTPUT_BYTES;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let n = 0;
    let overflow = false;
    const take = (into: Buffer[]) => (b: Buffer) => {
      n += b.length;
      if (n > max) {
        if (!overflow) child.kill('SIGKILL');
        overflow = true;
        return;
      }
      into.push(b);
    };
    child.stdout.on('data', take(out));
    child.stderr.on('data', take(err));
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // a tool that exits early closes its stdin
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: overflow ? null : code,
        signal,
        stdout: Buffer.concat(out),
        stderr: overflow ? `${stderr}\n(output exceeded ${max} bytes)` : stderr,
      });
    });
    child.stdin.end(opts.input);
  });
}

/** The first non-empty line of a tool's error output, for messages. */
export function firstLine(s: string): string {
  return (
    s
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  );
}

/** A process environment without the variables that would redirect git away from `dir`. */
export function gitEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (
      /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|NAMESPACE|CEILING_DIRECTORIES|COMMON_DIR)$/.test(
        k,
      )
    )
      continue;
    clean[k] = v;
  }
  clean.LC_ALL = 'C';
  clean.GIT_TERMINAL_PROMPT = '0';
  return clean;
}
