/**
 * Running nitro-cli and reading what it prints. nitro-cli writes one JSON value (pretty-printed)
 * to stdout and progress and errors to stderr; a failure prints `[ Exx ] <text>`, a help link and
 * a log path, and exits non-zero (aws-nitro-enclaves-cli `src/common/mod.rs
 * construct_error_message`, `src/common/json_output.rs`, nitro-brief §4.1-§4.2).
 *
 * Everything nitro-cli prints is parsed strictly here (unknown keys are tolerated, missing or
 * mistyped ones are not), so the backend works on typed values only.
 */
import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { NitroCliFailure } from './nitro-errors.js';
import { NitroError, nitroCliError } from './nitro-errors.js';

/** Largest stdout or stderr kept from one nitro-cli run. */
export const MAX_NITRO_CLI_OUTPUT_BYTES = 4 * 1024 * 1024;
/** Characters of stderr kept in errors. */
const STDERR_TAIL_CHARS = 2000;

const u32 = z.number().int().min(0).max(0xffff_ffff);

/** `EnclaveRunInfo` (run-enclave). `EnclaveName` is absent before nitro-cli 1.2. */
const RunEnclaveInfoSchema = z.object({
  EnclaveName: z.string().optional(),
  EnclaveID: z.string().min(1),
  ProcessID: u32,
  EnclaveCID: u32,
  NumberOfCPUs: u32,
  CPUIDs: z.array(u32),
  MemoryMiB: z.number().int().min(0),
});

/** `EnclaveDescribeInfo` (describe-enclaves, one per enclave). */
const DescribedEnclaveSchema = RunEnclaveInfoSchema.extend({
  State: z.string(),
  Flags: z.string(),
  Measurements: z.record(z.string(), z.string()).optional(),
});

/** `EnclaveTerminateInfo` (terminate-enclave). */
const TerminateInfoSchema = z.object({
  EnclaveName: z.string().optional(),
  EnclaveID: z.string().min(1),
  Terminated: z.boolean(),
});

export type RunEnclaveInfo = z.infer<typeof RunEnclaveInfoSchema>;
export type DescribedEnclave = z.infer<typeof DescribedEnclaveSchema>;
export type TerminateInfo = z.infer<typeof TerminateInfoSchema>;

/** What to start. */
export interface RunEnclaveRequest {
  eifPath: string;
  cpuCount: number;
  memoryMiB: number;
  cid: number;
  name: string;
  debug: boolean;
}

/**
 * The exact run-enclave arguments: production mode unless debug is asked for (debug mode zeroes
 * PCR0-2 and opens the console, nitro-brief §4.3).
 */
export function runEnclaveArgs(r: RunEnclaveRequest): string[] {
  return [
    'run-enclave',
    '--eif-path',
    r.eifPath,
    '--cpu-count',
    String(r.cpuCount),
    '--memory',
    String(r.memoryMiB),
    '--enclave-cid',
    String(r.cid),
    '--enclave-name',
    r.name,
    ...(r.debug ? ['--debug-mode'] : []),
  ];
}

/** One `[ Exx ] …` message. */
export interface NitroCliMessage {
  code: string;
  message: string;
}

/**
 * The `[ Exx ]` messages in nitro-cli's stderr, in order, each without its help link and log
 * path (the text may span lines, as E19, E22 and E27 do).
 */
export function parseNitroCliErrors(stderr: string): NitroCliMessage[] {
  const out: NitroCliMessage[] = [];
  const re = /\[ (E\d{2,3}) \] /g;
  const starts: { code: string; at: number; textAt: number }[] = [];
  for (let m = re.exec(stderr); m !== null; m = re.exec(stderr))
    starts.push({ code: m[1]!, at: m.index, textAt: m.index + m[0].length });
  starts.forEach((s, i) => {
    let text = stderr.slice(s.textAt, starts[i + 1]?.at ?? stderr.length);
    const help = text.indexOf('\n\nFor more details');
    if (help >= 0) text = text.slice(0, help);
    out.push({ code: s.code, message: text.trim() });
  });
  return out;
}

/** How to run nitro-cli. */
export interface NitroCliOptions {
  /** The executable (default `nitro-cli` from PATH). */
  path: string;
  env?: NodeJS.ProcessEnv;
  /** Time limit of describe-enclaves and terminate-enclave. */
  timeoutMs: number;
  /** Time limit of run-enclave, which waits for the enclave to boot. */
  runTimeoutMs: number;
}

interface Completed {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  spawnError?: Error;
  timedOut: boolean;
}

/** Runs nitro-cli subcommands and returns their typed output; failures are {@link NitroError}s. */
export class NitroCli {
  constructor(readonly opts: NitroCliOptions) {}

  private exec(args: string[], timeoutMs: number): Promise<Completed> {
    return new Promise((resolve) => {
      const child = spawn(this.opts.path, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.opts.env ?? process.env,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outBytes = 0;
      let errBytes = 0;
      let timedOut = false;
      let spawnError: Error | undefined;
      child.stdout.on('data', (b: Buffer) => {
        if ((outBytes += b.length) <= MAX_NITRO_CLI_OUTPUT_BYTES) out.push(b);
      });
      child.stderr.on('data', (b: Buffer) => {
        if ((errBytes += b.length) <= MAX_NITRO_CLI_OUTPUT_BYTES) err.push(b);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('error', (e) => (spawnError = e));
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          exitCode: code,
          signal,
          timedOut,
          ...(spawnError ? { spawnError } : {}),
        });
      });
    });
  }

  /** Runs `args`; resolves with stdout, or rejects with the failure as nitro-cli told it. */
  private async invoke(args: string[], doing: string, timeoutMs: number): Promise<string> {
    const r = await this.exec(args, timeoutMs);
    const command = args[0] ?? '';
    if (r.spawnError !== undefined) {
      const enoent = (r.spawnError as NodeJS.ErrnoException).code === 'ENOENT';
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'NITRO_CLI_FAILED',
        `${doing}: cannot run nitro-cli (${this.opts.path}): ${enoent ? 'not found; install aws-nitro-enclaves-cli or set nitroCli' : r.spawnError.message}`,
        { cause: r.spawnError },
      );
    }
    if (r.exitCode === 0 && !r.timedOut) return r.stdout;
    const messages = parseNitroCliErrors(r.stderr);
    const tail = r.stderr.trim().slice(-STDERR_TAIL_CHARS);
    const failure: NitroCliFailure = {
      command,
      args: args.slice(1),
      exitCode: r.exitCode,
      signal: r.signal,
      code: messages[0]?.code,
      codes: messages.map((m) => m.code),
      message:
        messages[0]?.message ?? (r.timedOut ? `no answer within ${timeoutMs / 1000} s` : tail),
      stderrTail: r.timedOut ? `no answer within ${timeoutMs / 1000} s; ${tail}` : tail,
    };
    throw nitroCliError(failure, doing);
  }

  private parse<T>(schema: z.ZodType<T>, stdout: string, command: string): T {
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch (e) {
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'NITRO_CLI_OUTPUT',
        `nitro-cli ${command} printed no JSON: ${stdout.slice(0, 200)}`,
        { cause: e },
      );
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new NitroError(
        'ENCLAVE_START_FAILED',
        'NITRO_CLI_OUTPUT',
        `nitro-cli ${command} printed unexpected JSON (${i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid'})`,
        { cause: r.error, ...(i ? { path: i.path.join('.') } : {}) },
      );
    }
    return r.data;
  }

  /** `run-enclave`: starts an enclave; resolves once nitro-cli saw it boot. */
  async runEnclave(r: RunEnclaveRequest): Promise<RunEnclaveInfo> {
    const out = await this.invoke(
      runEnclaveArgs(r),
      `cannot start enclave ${r.name}`,
      this.opts.runTimeoutMs,
    );
    return this.parse(RunEnclaveInfoSchema, out, 'run-enclave');
  }

  /** `describe-enclaves`: the enclaves this user can see. */
  async describeEnclaves(): Promise<DescribedEnclave[]> {
    const out = await this.invoke(
      ['describe-enclaves'],
      'cannot list the enclaves',
      this.opts.timeoutMs,
    );
    return this.parse(z.array(DescribedEnclaveSchema), out, 'describe-enclaves');
  }

  /** `terminate-enclave --enclave-id <id>`: one enclave, never `--all`. */
  async terminateEnclave(id: string): Promise<TerminateInfo> {
    const out = await this.invoke(
      ['terminate-enclave', '--enclave-id', id],
      `cannot terminate enclave ${id}`,
      this.opts.timeoutMs,
    );
    return this.parse(TerminateInfoSchema, out, 'terminate-enclave');
  }
}
