/**
 * Runs enclave/build-images.sh in a copy of the repository with stand-ins for docker and
 * nitro-cli (neither runs here): the stand-in nitro-cli writes a small EIF with the project's
 * writer and prints its measurements as nitro-cli does, so the script's own steps run for real:
 * building the library, bundling the worker, checking the catalog, writing image.json, recording
 * PCRs, digest and URL.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT, loadImageCatalog } from '../../src/catalog/node.js';
import { describeEifFile } from '../../src/eif/node.js';

const run = promisify(execFile);
let root: string;

const NITRO_CLI = `#!/bin/sh
echo "nitro-cli $*" >> "$STUB_LOG"
out=""
while [ $# -gt 0 ]; do [ "$1" = "--output-file" ] && out="$2"; shift; done
exec node "$STUB_DIR/make-eif.mjs" "$out"
`;
const MAKE_EIF = `import { writeEifFile, describeEifFile } from '../lib/eif/node.js';
const out = process.argv[2];
await writeEifFile(out, {
  kernel: new Uint8Array([1, 2, 3]),
  cmdline: 'console=ttyS0',
  metadata: { ImageName: 'x', ImageVersion: '1', BuildMetadata: { BuildTime: 't', BuildTool: 'nitro-cli',
    BuildToolVersion: '1', OperatingSystem: 'Linux', KernelVersion: 'k' }, DockerInfo: null, CustomMetadata: null },
  ramdisks: [new Uint8Array([4]), new TextEncoder().encode(out)],
});
const m = (await describeEifFile(out)).measurements;
console.log(JSON.stringify({ Measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: m.pcr0, PCR1: m.pcr1, PCR2: m.pcr2 } }, null, 2));
`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'build-images-'));
  for (const p of [
    'src',
    'scripts',
    'enclave',
    'bin',
    'package.json',
    'tsconfig.json',
    'tsconfig.base.json',
    'tsconfig.build.json',
  ])
    await cp(join(PACKAGE_ROOT, p), join(root, p), {
      recursive: true,
      filter: (src) => !/[\\/]enclave[\\/]build(?:[\\/]|$)/.test(src),
    });
  await symlink(join(PACKAGE_ROOT, 'node_modules'), join(root, 'node_modules'));
  await mkdir(join(root, 'stubs'));
  await writeFile(join(root, 'stubs', 'docker'), '#!/bin/sh\necho "docker $*" >> "$STUB_LOG"\n');
  await writeFile(join(root, 'stubs', 'nitro-cli'), NITRO_CLI);
  await writeFile(join(root, 'stubs', 'make-eif.mjs'), MAKE_EIF);
  await chmod(join(root, 'stubs', 'docker'), 0o755);
  await chmod(join(root, 'stubs', 'nitro-cli'), 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('enclave/build-images.sh', () => {
  it('when run for rust with docker and nitro-cli stand-ins, it records the measured image in images.json', async () => {
    const env = {
      ...process.env,
      PATH: `${join(root, 'stubs')}:${process.env['PATH'] ?? ''}`,
      STUB_LOG: join(root, 'stub.log'),
      STUB_DIR: join(root, 'stubs'),
    };
    await run(
      'bash',
      [join(root, 'enclave', 'build-images.sh'), '--url-base', 'https://example.com/dl/', 'rust'],
      {
        cwd: root,
        env,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    const log = await readFile(join(root, 'stub.log'), 'utf8');
    expect(log).toContain(
      'docker buildx build --file enclave/images/rust/Dockerfile --platform linux/amd64 --build-arg SOURCE_DATE_EPOCH=1766966400',
    );
    expect(log).toContain(
      'nitro-cli build-enclave --docker-uri tee-compile-rust:0.1.0 --output-file enclave/build/out/rust-0.1.0.eif --name rust --version 0.1.0',
    );
    const catalog = await loadImageCatalog(join(root, 'enclave', 'images.json'));
    const rust = catalog.images.find((i) => i.name === 'rust')!;
    const d = await describeEifFile(join(root, 'enclave', 'build', 'out', 'rust-0.1.0.eif'));
    expect(rust.pcrs).toEqual({
      pcr0: d.measurements.pcr0,
      pcr1: d.measurements.pcr1,
      pcr2: d.measurements.pcr2,
    });
    expect(rust.eif?.url).toBe('https://example.com/dl/rust-0.1.0.eif');
    expect(catalog.images.find((i) => i.name === 'go')!.pcrs).toBeNull();
    const imageJson = JSON.parse(
      await readFile(join(root, 'enclave', 'build', 'rust', 'image.json'), 'utf8'),
    ) as object;
    expect(imageJson).toEqual({
      name: 'rust',
      version: '0.1.0',
      language: 'rust',
      toolchain: rust.toolchain,
    });
    const sums = await readFile(
      join(root, 'enclave', 'build', 'out', 'rust-0.1.0.eif.sha256'),
      'utf8',
    );
    expect(sums).toBe(`${rust.eif?.sha256}  rust-0.1.0.eif\n`);
  });
});
