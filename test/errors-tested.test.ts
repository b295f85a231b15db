/**
 * Every code of every list in src/ is made to happen by a test: some test file names the code
 * (outside comments) within a few lines of an assertion (`toThrow`, `toHaveCode`, `.code`,
 * `toBe`, `toEqual`, `toMatchObject`, `rejects`, …), or names it in a file whose assertions take
 * the code from a table (`toHaveCode(code)`, `.code).toBe(code)`). The agent's codes reach clients
 * as their `error.type` (src/agent/server.ts): a test of that type counts for the code.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_STATUS } from '../src/agent/server.js';
import { ROOT, codeLists, filesUnder } from './support/error-codes.js';

/** Lines either side of a code within which an assertion counts. */
const WINDOW = 15;
const ASSERTION =
  /toThrow|toHaveCode|toBeRefusedWith|\.code\b|\bcode:|toBe\(|toEqual|toStrictEqual|toMatchObject|rejects|toContain/;
/** An assertion whose expected code is a variable (a table of cases). */
const TABLE_ASSERTION =
  /(?:toHaveCode|toThrowWithCode|toBeRefusedWith|\.code\)\.toBe|toMatchObject)\(\s*\{?\s*(?:code:\s*)?[a-z]\w*/;

const tests = filesUnder(join(ROOT, 'test'), '.ts')
  .filter((f) => !f.includes('/support/') && !f.endsWith('errors-tested.test.ts'))
  .map((f) => {
    const lines = readFileSync(f, 'utf8')
      .split('\n')
      .map((l) => (/^\s*(?:\/\/|\*|\/\*)/.test(l) ? '' : l));
    return { lines, table: lines.some((l) => TABLE_ASSERTION.test(l)) };
  });

function named(word: string): RegExp {
  return new RegExp(`(?<![A-Za-z0-9_])${word}(?![A-Za-z0-9_])`);
}

/** True when some test asserts one of `names` (see the opening comment). */
function tested(names: string[]): boolean {
  const res = names.map(named);
  return tests.some(({ lines, table }) =>
    lines.some(
      (l, i) =>
        res.some((re) => re.test(l)) &&
        (table ||
          lines.slice(Math.max(0, i - WINDOW), i + WINDOW + 1).some((x) => ASSERTION.test(x))),
    ),
  );
}

describe('error codes', () => {
  const lists = codeLists();

  it('when reading src/, every code list lives in its module errors.ts', () => {
    expect(lists.length).toBeGreaterThan(20);
    expect(lists.filter((l) => !/^src\/[a-z0-9-]+\/errors\.ts$/.test(l.file))).toEqual([]);
  });

  it('when looking each code up in the tests, every one is made to happen by a test', () => {
    const wire = ERROR_STATUS as Record<string, [number, string]>;
    const untested = lists.flatMap((l) =>
      l.codes
        .filter((c) => !tested(wire[c] === undefined ? [c] : [c, `'${wire[c][1]}'`.slice(1, -1)]))
        .map((c) => `${l.list}: ${c}`),
    );
    expect(untested).toEqual([]);
  });
});
