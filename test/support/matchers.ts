import { expect } from '@jest/globals';

/**
 * Custom matchers:
 * - `expect(fn).toThrowWithCode(code)` / `await expect(promise).rejects.toHaveCode(code)`:
 *   the thrown error carries `code`.
 * - `expect(result).toBeRefusedWith(code)`: a `{ ok: false, code }` result with that code.
 */
interface Coded {
  code?: unknown;
  message?: unknown;
}

function describeErr(e: unknown): string {
  if (e instanceof Error) return `${e.name}(${String((e as Coded).code)}): ${e.message}`;
  return JSON.stringify(e);
}

expect.extend({
  toThrowWithCode(received: () => unknown, code: string) {
    try {
      received();
    } catch (e) {
      const pass = (e as Coded)?.code === code;
      return {
        pass,
        message: () => `expected an error with code ${code}, got ${describeErr(e)}`,
      };
    }
    return {
      pass: false,
      message: () => `expected an error with code ${code}, nothing was thrown`,
    };
  },
  toHaveCode(received: unknown, code: string) {
    const pass = (received as Coded)?.code === code;
    return { pass, message: () => `expected code ${code}, got ${describeErr(received)}` };
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
    toThrowWithCode(code: string): R;
    toHaveCode(code: string): R;
    toBeRefusedWith(code: string): R;
  }
}
