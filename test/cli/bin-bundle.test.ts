/**
 * bin/tee-compile.js runs the bundled command line (lib/cli-bundle/, scripts/bundle-cli.mjs) only
 * when it is current: newer than tsc's lib/cli/main.js. A `tsc` alone after the bundle falls back
 * to lib/, never to stale code. Checked on a copy of bin/ over two stand-in entry points; then
 * the real bundle against the real lib/.
 */
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIN } from '../support/cli/cli.js';

const run = promisify(execFile);
const LIB = fileURLToPath(new URL('../../lib/', import.meta.url));

/** An entry point that prints which one ran. */
const entry = (name: string): string =>
  `export async function main(args, io) { io.stdout.write(${JSON.stringify(name)} + ' ' + args.join(' ')); return 0; }\n`;

describe('bin/tee-compile.js chooses the bundle only when it is current', () => {
  let dir: string;
  const bundle = (): string => join(dir, 'lib', 'cli-bundle', 'main.mjs');
  const compiled = (): string => join(dir, 'lib', 'cli', 'main.js');
  const at = (file: string, seconds: number): Promise<void> =>
    utimes(file, new Date(seconds * 1000), new Date(seconds * 1000));
  const which = async (): Promise<string> =>
    (await run(process.execPath, [join(dir, 'bin', 'tee-compile.js'), 'x', 'y'])).stdout;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bin-bundle-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'lib', 'cli'), { recursive: true });
    await mkdir(join(dir, 'lib', 'cli-bundle'));
    await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
    await copyFile(BIN, join(dir, 'bin', 'tee-compile.js'));
    await writeFile(compiled(), entry('lib'));
    await writeFile(bundle(), entry('bundle'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test('a bundle newer than lib/cli/main.js runs, with the arguments', async () => {
    await at(compiled(), 1_000_000);
    await at(bundle(), 1_000_010);
    expect(await which()).toBe('bundle x y');
  });

  test('a bundle as new as lib/cli/main.js runs (both written by one build)', async () => {
    await at(compiled(), 1_000_000);
    await at(bundle(), 1_000_000);
    expect(await which()).toBe('bundle x y');
  });

  test('lib/ compiled after the bundle runs as compiled', async () => {
    await at(bundle(), 1_000_000);
    await at(compiled(), 1_000_010);
    expect(await which()).toBe('lib x y');
  });

  test('without a bundle, lib/ runs', async () => {
    await rm(bundle());
    expect(await which()).toBe('lib x y');
  });
});

describe('the real bundle', () => {
  async function answer(
    mod: string,
    args: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const { main } = (await import(join(LIB, mod))) as {
      main: (a: string[], io: object) => Promise<number>;
    };
    const capture = (): { stream: PassThrough; text: () => string } => {
      const stream = new PassThrough();
      const chunks: Buffer[] = [];
      stream.on('data', (b: Buffer) => chunks.push(b));
      return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
    };
    const out = capture();
    const err = capture();
    const code = await main(args, {
      stdout: out.stream,
      stderr: err.stream,
      cwd: process.cwd(),
      env: process.env,
    });
    return { code, stdout: out.text(), stderr: err.text() };
  }

  // The version is read from package.json by a path relative to the module: the bundle sits at
  // the same depth as lib/cli/. Each command is a chunk of its own, loaded on demand.
  const asked = [
    ['--version'],
    ['--help'],
    ['build', '--help'],
    ['verify', '--help'],
    ['ec2', '--help'],
  ];
  test.each(asked.map((args) => [args.join(' '), args] as const))(
    'is built by npm run build and answers `%s` as lib/ does',
    async (_name, args) => {
      const bundled = await answer('cli-bundle/main.mjs', [...args]);
      const compiled = await answer('cli/main.js', [...args]);
      expect(bundled.stdout + bundled.stderr).toMatch(/\S/);
      expect(bundled).toEqual(compiled);
    },
  );
});
