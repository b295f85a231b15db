import { describe, expect, it } from '@jest/globals';
import { chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffoscopeComparer, findDiffoscope } from '../../src/verify/diffoscope.js';
import { tempDirSync } from '../support/temp.js';

const te = new TextEncoder();

/** A directory on PATH holding a fake `diffoscope` with the given shell body. */
function fakeDiffoscope(body: string): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = tempDirSync('fake-diffoscope-');
  const exe = join(dir, 'diffoscope');
  writeFileSync(exe, `#!/bin/sh\n${body}\n`);
  chmodSync(exe, 0o755);
  return { env: { PATH: `${dir}:/usr/bin:/bin` }, dir };
}

describe('diffoscope', () => {
  it('when diffoscope is not installed, it finds nothing and the comparer returns null', async () => {
    const env = { PATH: tempDirSync('empty-path-') };
    expect(await findDiffoscope(env)).toBeNull();
    const compare = diffoscopeComparer({ env });
    expect(await compare('a.txt', te.encode('1'), te.encode('2'))).toBeNull();
  });

  it('when diffoscope is installed and finds differences, it returns its text report with the files named majority/ and dissent/', async () => {
    // Prints its arguments and both files, as diffoscope's text report quotes paths and content.
    const { env } = fakeDiffoscope(
      'echo "args: $*"; echo "--- $4"; cat "$4"; echo "+++ $5"; cat "$5"; printf "\\033[31mred\\n"; exit 1',
    );
    const compare = diffoscopeComparer({ env });
    const report = await compare('dist/app.tar.gz', te.encode('left\n'), te.encode('right\n'));
    expect(report).not.toBeNull();
    const lines = report!.split('\n');
    expect(lines[0]).toMatch(
      /^args: --text - --no-progress majority\/dist\/app\.tar\.gz dissent\/dist\/app\.tar\.gz$/,
    );
    expect(lines).toContain('--- majority/dist/app.tar.gz');
    expect(lines).toContain('left');
    expect(lines).toContain('+++ dissent/dist/app.tar.gz');
    expect(lines).toContain('right');
    expect(report).not.toContain(tmpdir());
    expect(report).toContain('\\x1b[31mred');
  });

  it('when the caller names the sides (no majority), the files are shown under those names; unsafe names fall back', async () => {
    const { env } = fakeDiffoscope('echo "$4 $5"; exit 1');
    const compare = diffoscopeComparer({ env });
    expect(await compare('a.txt', te.encode('1'), te.encode('2'), ['group-1', 'group-2'])).toBe(
      'group-1/a.txt group-2/a.txt\n',
    );
    expect(await compare('a.txt', te.encode('1'), te.encode('2'), ['../up', 'x'])).toBe(
      'majority/a.txt dissent/a.txt\n',
    );
    expect(await compare('a.txt', te.encode('1'), te.encode('2'), ['same', 'same'])).toBe(
      'majority/a.txt dissent/a.txt\n',
    );
  });

  it('when the report is longer than the bound, it is cut with a note', async () => {
    const { env } = fakeDiffoscope('yes "a long line of a long report" | head -n 100000; exit 1');
    const report = await diffoscopeComparer({ env, maxOutputBytes: 1000 })(
      'f',
      te.encode('1'),
      te.encode('2'),
    );
    expect(report).toContain('(report cut at 1000 bytes)');
    expect(report!.length).toBeLessThan(1100);
  });

  it('when diffoscope fails (exit 2) or finds no difference (exit 0), the comparer returns null', async () => {
    const failing = fakeDiffoscope('echo "Traceback: boom"; exit 2');
    expect(
      await diffoscopeComparer({ env: failing.env })('f', te.encode('1'), te.encode('2')),
    ).toBeNull();
    const same = fakeDiffoscope('exit 0');
    expect(
      await diffoscopeComparer({ env: same.env })('f', te.encode('1'), te.encode('2')),
    ).toBeNull();
  });

  it('when diffoscope runs past its time limit, it is stopped with its children and what it printed is kept with a note', async () => {
    const { env } = fakeDiffoscope('echo "partial report"; sleep 600 & wait; exit 1');
    const report = await diffoscopeComparer({ env, timeoutMs: 300 })(
      'f',
      te.encode('1'),
      te.encode('2'),
    );
    expect(report).toContain('partial report');
    expect(report).toContain('diffoscope stopped: out of time');
  });
});

describe('diffoscope time budget', () => {
  it('when the budget of all comparisons is spent, further files are not compared', async () => {
    const { env } = fakeDiffoscope('echo "report"; sleep 600 & wait; exit 1');
    const compare = diffoscopeComparer({ env, timeoutMs: 60_000, totalTimeoutMs: 200 });
    expect(await compare('a', te.encode('1'), te.encode('2'))).toContain('out of time');
    expect(await compare('b', te.encode('1'), te.encode('2'))).toBeNull();
  });
});
