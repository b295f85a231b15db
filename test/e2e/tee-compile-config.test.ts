/**
 * A TEE Compile build.json, unchanged (`env` as a list of `K=V`, `vendor`, no field of ours),
 * built end to end with `tee-compile build --local` and verified: the worker runs its command with
 * its environment, and the provenance records the configuration as normalised.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { readBundle } from '../../src/bundle/index.js';
import { cliBuildJson, cliVerify } from '../support/cli/build-cli.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { makeRepo } from '../support/source/build-repo.js';

const TEE_COMPILE_CONFIG = {
  language: 'go',
  input: {
    cmd: 'mkdir -p out && go build -trimpath -o out/hello . && echo "cgo=$CGO_ENABLED tag=$RELEASE_TAG" > out/env.txt',
    vendor: '',
    env: ['CGO_ENABLED=0', 'RELEASE_TAG=v1.2.3'],
  },
  output: { files: ['out/hello', 'out/env.txt'] },
};

let repo: TestRepo;
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-e2e-teecompile-'));
  repo = await makeRepo({
    'go.mod': 'module example.com/hello\n\ngo 1.19\n',
    'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
    'build.json': JSON.stringify(TEE_COMPILE_CONFIG, null, 2) + '\n',
  });
});
afterAll(async () => {
  await repo.remove();
  await rm(work, { recursive: true, force: true });
});

describe('a TEE Compile build.json', () => {
  it('when built unchanged with tee-compile build --local, it builds with its environment, records it, and verifies', async () => {
    const nonce = '7a'.repeat(32);
    const r = await cliBuildJson(
      ['.', '--local', '--nonce', nonce, '--out', join(work, 'bundle.tar.gz')],
      repo.dir,
      join(work, 'cache'),
    );
    expect(r.subjects.map((s) => s.name).sort()).toEqual(['out/env.txt', 'out/hello']);
    const v = await cliVerify(r.bundle, nonce, repo.commit, repo.dir);
    expect({ code: v.code, stderr: v.stderr }).toEqual({ code: 0, stderr: '' });

    const bundle = await readBundle(fileChunks(r.bundle));
    expect(Buffer.from(bundle.artifacts.get('out/env.txt')!).toString()).toBe('cgo=0 tag=v1.2.3\n');
    const st = JSON.parse(Buffer.from(bundle.provenance).toString('utf8')) as {
      predicate: { buildDefinition: { externalParameters: { buildConfig?: unknown } } };
    };
    expect(JSON.stringify(st.predicate.buildDefinition.externalParameters)).toContain(
      '"CGO_ENABLED":"0"',
    );
  });
});
