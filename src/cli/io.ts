import type { Writable } from 'node:stream';
import { printable } from '../util/printable.js';
import type { CommandErrorCode } from './errors.js';

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

export { CLI_ERROR_CODES, CommandError, UsageError } from './errors.js';
export type { CliErrorCode, CommandErrorCode } from './errors.js';

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
  code: CommandErrorCode;
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
    const out: { ok: false; code: CommandErrorCode; message: string; path?: string } = {
      ok: false,
      code: e.code,
      message: e.message,
    };
    if (e.path !== undefined) out.path = e.path;
    writeLine(io.stdout, jsonLine(out));
  }
  return EXIT_USAGE;
}
