import type { Writable } from 'node:stream';

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

/** A usage mistake: printed with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type Command = (args: string[], io: CliIo) => Promise<number>;

export function writeLine(stream: Writable, line = ''): void {
  stream.write(line + '\n');
}
