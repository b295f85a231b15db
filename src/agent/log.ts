import type { Writable } from 'node:stream';
import type { LogLevel } from './config.js';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra fields of a log line (job_id, status, …). Never the token or a request body. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** A structured logger: one JSON object per line (`time`, `level`, `msg`, then the fields). */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Writes JSON lines to `out` (stderr in the command), dropping levels below `level`. */
export function createLogger(
  out: Writable,
  level: LogLevel,
  clock: () => number = Date.now,
): Logger {
  const min = LEVELS[level];
  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < min) return;
    const line: Record<string, unknown> = {
      time: new Date(clock()).toISOString(),
      level: lvl,
      msg,
    };
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
    out.write(JSON.stringify(line) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything (library use without logs). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
