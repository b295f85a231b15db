import type { Writable } from 'node:stream';
import { printable } from '../util/printable.js';

/** What a command reads and writes; the real process in `main`, buffers in tests. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
/** The thing checked was refused (verification failed, build failed). */
export const EXIT_REFUSED = 1;
/** Usage or I/O error: the command could not do its job. */
export const EXIT_USAGE = 2;

/**
 * The CLI's own codes for an exit-2 error. A command may also end with a library's code (e.g.
 * `POLICY_INVALID` from the verifier). Codes are API: add, never rename.
 */
export const CLI_ERROR_CODES = [
  'USAGE', // a flag, an argument or a combination of them is not valid
  'IO_ERROR', // an input file could not be read
] as const;

/**
 * An error that ends a command with exit 2 (the command could not do its job): printed as text on
 * stderr, and with `--json` also as `{"ok":false,"code","message"}` on stdout.
 */
export class CommandError extends Error {
  override name = 'CommandError';
  readonly code: string;
  readonly path: string | undefined;

  constructor(code: string, message: string, path?: string) {
    super(message);
    this.code = code;
    this.path = path;
  }
}

/** A usage mistake: printed with the command's usage line, exit code 2. */
export class UsageError extends CommandError {
  override name = 'UsageError';

  constructor(message: string) {
    super('USAGE', message);
  }
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

export function writeLine(stream: Writable, line = ''): void {
  stream.write(line + '\n');
}

/**
 * One JSON value on one line. Values may come from bundles: U+2028 and U+2029, which some readers
 * take for line ends, are escaped too.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

/**
 * True when the arguments ask for `--json` (before a `--`). Read from the raw arguments, so that
 * a mistake in them is still reported as JSON to a script that asked for JSON.
 */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/** What an exit-2 error says: its code, its message and the field it names. */
export interface ErrorReport {
  code: string;
  message: string;
  path?: string | undefined;
}

/**
 * Prints an exit-2 error: as a line of text on stderr (`tee-compile <command>: …`, escaped), and
 * with `json` also as one JSON object on stdout. Returns EXIT_USAGE.
 */
export function printError(io: CliIo, command: string, e: ErrorReport, json: boolean): number {
  writeLine(
    io.stderr,
    `tee-compile${command === '' ? '' : ` ${command}`}: ${printable(e.message, 2000)}`,
  );
  if (json) {
    const out: { ok: false; code: string; message: string; path?: string } = {
      ok: false,
      code: e.code,
      message: e.message,
    };
    if (e.path !== undefined) out.path = e.path;
    writeLine(io.stdout, jsonLine(out));
  }
  return EXIT_USAGE;
}
