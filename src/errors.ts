/**
 * Base of every error this project raises on purpose.
 *
 * Each domain (attestation, provenance, bundle, verify, worker, agent, ...) defines its own closed
 * list of codes and a subclass. Codes are API: add, never rename. `path` names the failing field
 * (dotted, e.g. `payload.pcrs.3` or `input.cmd`) when there is one.
 */
export class TeeCompileError<C extends string = string> extends Error {
  readonly code: C;
  readonly path: string | undefined;

  constructor(code: C, message: string, options?: { path?: string | undefined; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.path = options?.path;
  }
}

/** A type guard for one of our error classes: `export const isXError = errorGuard(XError)`. */
export function errorGuard<E extends Error>(
  cls: abstract new (...args: never[]) => E,
): (e: unknown) => e is E {
  return (e: unknown): e is E => e instanceof cls;
}

/** A refusal as data: what every public `verify…()` returns instead of throwing. */
export interface Refusal<C extends string = string> {
  ok: false;
  code: C;
  path?: string;
  message: string;
}

/** Turns one of our errors into a refusal; anything else is a bug and is rethrown. */
export function toRefusal<C extends string>(
  err: unknown,
  isOurs: (e: unknown) => e is TeeCompileError<C>,
): Refusal<C> {
  if (!isOurs(err)) throw err;
  const r: Refusal<C> = { ok: false, code: err.code, message: err.message };
  if (err.path !== undefined) r.path = err.path;
  return r;
}
