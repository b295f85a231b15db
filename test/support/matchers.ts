import { expect } from '@jest/globals';

/**
 * Custom matchers:
 * - `expect(fn).toThrowWithCode(code, path?)` / `await expect(promise).rejects.toHaveCode(code,
 *   path?)`: the thrown error carries `code` (and, when given, names the field `path`).
 * - `expect(result).toBeRefusedWith(code)`: a `{ ok: false, code }` result with that code.
 */
interface Coded {
  code?: unknown;
  path?: unknown;
  message?: unknown;
}

function hasCode(e: unknown, code: string, path: string | undefined): boolean {
  const c = e as Coded | null;
  return c?.code === code && (path === undefined || c.path === path);
}

function wanted(code: string, path: string | undefined): string {
  return path === undefined ? `code ${code}` : `code ${code} at ${path}`;
}

function describeErr(e: unknown): string {
  if (e instanceof Error) {
    const { code, path } = e as Coded;
    const at = path === undefined ? '' : ` at ${JSON.stringify(path)}`;
    return `${e.name}(${String(code)}${at}): ${e.message}`;
  }
  return JSON.stringify(e);
}

expect.extend({
  toThrowWithCode(received: () => unknown, code: string, path?: string) {
    try {
      received();
    } catch (e) {
      return {
        pass: hasCode(e, code, path),
        message: () => `expected an error with ${wanted(code, path)}, got ${describeErr(e)}`,
      };
    }
    return {
      pass: false,
      message: () => `expected an error with ${wanted(code, path)}, nothing was thrown`,
    };
  },
  toHaveCode(received: unknown, code: string, path?: string) {
    return {
      pass: hasCode(received, code, path),
      message: () => `expected ${wanted(code, path)}, got ${describeErr(received)}`,
    };
  },
  toBeRefusedWith(received: unknown, code: string) {
    const r = received as { ok?: unknown; code?: unknown; message?: unknown };
    const pass = r?.ok === false && r.code === code;
    return {
      pass,
      message: () =>
        `expected a refusal with code ${code}, got ${JSON.stringify(r, (_k, v: unknown) =>
          v instanceof Uint8Array ? `<${v.length} bytes>` : v,
        ).slice(0, 600)}`,
    };
  },
});

declare module 'expect' {
  interface Matchers<R> {
    toThrowWithCode(code: string, path?: string): R;
    toHaveCode(code: string, path?: string): R;
    toBeRefusedWith(code: string): R;
  }
}
