/**
 * The worker as the Nitro images run it: `--listen host:port --nsm device --nsm-helper … --jail …`,
 * here with the helper stand-in answering as the device would and a plain file standing for
 * /dev/nsm, outside any sandbox. Jailing the build command needs root, as in the enclave.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileChunks } from '../../src/archive/node.js';
import { decodeAttestation } from '../../src/attestation/index.js';
import { readBundle } from '../../src/bundle/index.js';
import { imageJson, loadImageCatalog } from '../../src/catalog/node.js';
import { submitBuild } from '../../src/protocol/index.js';
import { toHex } from '../../src/util/hex.js';
import { parseWorkerArgs } from '../../src/worker/main.js';
import { WORKER_VERSION } from '../../src/worker/version.js';
import type { TestRepo } from '../support/source/build-repo.js';
import { REPO_ROOT, goProject, makeRepo } from '../support/source/build-repo.js';
import { prepare, submissionOf } from '../support/processes/build-session.js';
import { fakeNsmHelper, helperPcr } from '../support/nitro/sandbox-nsm.js';
import { workerBundle } from '../support/processes/sandbox-worker.js';
import { CAN_JAIL, buildJail } from '../support/processes/jail.js';

let dir: string;
let repo: TestRepo;
let device: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tc-main-'));
  await chmod(dir, 0o755);
  device = join(dir, 'nsm');
  await writeFile(device, '');
  await chmod(device, 0o666);
  // What a hostile build would try first: the NSM device, as another user than the worker.
  const probe = `{ id -u; if (exec 3<>${device}) 2>/dev/null; then echo nsm-open; else echo nsm-denied; fi; } > probe.txt`;
  // And what a release script expects: a clean git work tree at the commit, as the jailed user.
  const gitProbe = `{ git rev-parse HEAD; git status --porcelain; git describe --always --abbrev=40; } > "$TMPDIR/git.txt" 2>&1; mv "$TMPDIR/git.txt" git.txt`;
  repo = await makeRepo(
    goProject(`${gitProbe}; echo from-device > out.txt; ${probe}`, {}, [
      'out.txt',
      'probe.txt',
      'git.txt',
    ]),
  );
});
afterAll(async () => {
  await repo.remove();
  await rm(dir, { recursive: true, force: true });
});

/** The catalog's go image descriptor, written to `name` in the test folder. */
async function goImage(name: string): Promise<string> {
  const catalog = await loadImageCatalog();
  const file = join(dir, name);
  await writeFile(
    file,
    JSON.stringify(imageJson(catalog.images.find((i) => i.language === 'go')!)),
  );
  return file;
}

/** Runs the bundled worker with `args` until it exits; resolves with its status and stderr. */
async function runToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [await workerBundle(), ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  return { code, stderr };
}

/** The command line of a worker on TCP with the device NSM through a fake helper of `helper`'s mode. */
async function deviceWorkerArgs(o: {
  helper: Parameters<typeof fakeNsmHelper>[0];
  image: string;
  workspace: string;
  jail?: boolean;
}): Promise<string[]> {
  return [
    '--listen',
    '127.0.0.1:0',
    '--nsm',
    'device',
    '--nsm-helper',
    await fakeNsmHelper(o.helper),
    ...(o.jail ? ['--jail', await buildJail()] : []),
    '--image',
    await goImage(o.image),
    '--workspace',
    o.workspace,
  ];
}

/** Starts the bundled worker with `args`; resolves with the port it reports. */
function startWorker(
  args: string[],
): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve({ child, port: Number(m[1]), stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${err}`)));
  });
}

describe('worker entry point', () => {
  (CAN_JAIL ? it : it.skip)(
    'when run as the Nitro image runs it, it builds one request over TCP in the jail, with the NSM device closed to the build, and attests through the NSM helper',
    async () => {
      const image = await goImage('image.json');
      const w = await startWorker([
        await workerBundle(),
        '--listen',
        '127.0.0.1:0',
        '--nsm',
        'device',
        '--nsm-helper',
        await fakeNsmHelper('software'),
        '--jail',
        await buildJail(),
        '--nsm-device',
        device,
        '--image',
        image,
        '--workspace',
        join(dir, 'ws'),
      ]);
      const exited = new Promise<number | null>((r) => w.child.once('exit', r));
      const sock = await new Promise<Socket>((r) => {
        const s = connect(w.port, '127.0.0.1', () => r(s));
      });
      const p = await prepare(repo.dir, join(dir, 'cache'));
      const res = await submitBuild(sock, submissionOf(p), {
        bundleFile: join(dir, 'bundle.tar.gz'),
      });
      await p.cleanup();
      expect(await exited).toBe(0);
      expect(w.stderr()).toContain('build delivered (3 outputs)');
      const bundle = await readBundle(fileChunks(res.bundle.file));
      const doc = decodeAttestation(bundle.attestation);
      expect(toHex(doc.pcrs.get(3)!)).toBe(toHex(helperPcr(3)));
      const st = JSON.parse(Buffer.from(bundle.provenance).toString('utf8')) as {
        predicate: {
          buildDefinition: { internalParameters: { isolation: unknown; image: { pcr0: string } } };
          runDetails: { builder: { id: string } };
        };
      };
      expect(st.predicate.runDetails.builder.id).toBe('https://tee-compile.dev/builders/nitro/v1');
      expect(st.predicate.buildDefinition.internalParameters.isolation).toMatchObject({
        backend: 'nitro',
        network: 'enclave',
      });
      expect(st.predicate.buildDefinition.internalParameters.image.pcr0).toBe(toHex(helperPcr(0)));
      expect(Buffer.from(bundle.artifacts.get('out.txt')!).toString()).toBe('from-device\n');
      // The build ran as the jail's user and could not open the device the worker attests with.
      expect(Buffer.from(bundle.artifacts.get('probe.txt')!).toString()).toBe(
        '10001\nnsm-denied\n',
      );
      expect(((await stat(device)).mode & 0o777).toString(8)).toBe('600');
      // The .git written from the verified tree: HEAD at the commit, nothing changed.
      expect(Buffer.from(bundle.artifacts.get('git.txt')!).toString()).toBe(
        `${repo.commit}\n${repo.commit}\n`,
      );
      expect(st.predicate.buildDefinition.internalParameters).toMatchObject({
        workspace: { git: { head: repo.commit, gitDir: '.git' } },
        timings: { building: expect.any(Number), 'verifying-source': expect.any(Number) },
      });
      const notes = (
        st.predicate.buildDefinition.internalParameters.isolation as { notes: string[] }
      ).notes;
      expect(notes.join('\n')).toMatch(/build command jailed \(tee-jail\): uid 10001/);
      expect(notes).toContain(`NSM device ${device}: root only (0600)`);
      // DescribeNSM and DescribePCR as the NSM answered them.
      const nsm = (st.predicate.buildDefinition.internalParameters as unknown as { nsm: unknown })
        .nsm;
      expect(nsm).toMatchObject({
        maxPcrs: 32,
        lockedPcrs: expect.any(Array),
        pcrLocks: { '0': expect.any(Boolean), '4': expect.any(Boolean) },
      });
    },
  );

  it('when started with the device NSM but without --jail, the worker does not start and says why', async () => {
    const { code, stderr: err } = await runToExit(
      await deviceWorkerArgs({
        helper: 'software',
        image: 'image-nojail.json',
        workspace: join(dir, 'ws-nojail'),
      }),
    );
    expect(code).toBe(3);
    expect(err).toMatch(/cannot start: --nsm device needs --jail/);
  });

  it.each([
    ['a file of a build before', 'src'],
    ['a file where the memory-backed deps/ folder goes', 'deps'],
  ])(
    'when the workspace holds %s, the worker does not start and exits 3 saying why',
    async (_what, name) => {
      const ws = join(dir, `ws-used-${name}`);
      await mkdir(ws, { recursive: true });
      await writeFile(join(ws, name), 'left over');
      const { code, stderr: err } = await runToExit(
        await deviceWorkerArgs({ helper: 'software', image: 'image-used.json', workspace: ws }),
      );
      expect(code).toBe(3);
      expect(err).toMatch(/cannot start: the workspace .* is not empty/);
    },
  );

  (CAN_JAIL ? it : it.skip)(
    'when the NSM helper finds no device, the worker does not start and exits 3 saying why',
    async () => {
      const { code, stderr: err } = await runToExit(
        await deviceWorkerArgs({
          helper: 'no-device',
          image: 'image-go.json',
          workspace: join(dir, 'ws2'),
          jail: true,
        }),
      );
      expect(code).toBe(3);
      expect(err).toMatch(/cannot start: .*no NSM device/);
    },
  );

  it('when a flag is missing or malformed, parsing names it', () => {
    expect(() => parseWorkerArgs(['--nsm', 'device', '--image', 'i', '--workspace', 'w'])).toThrow(
      '--listen is required',
    );
    expect(() =>
      parseWorkerArgs(['--listen', 'x', '--nsm', 'device', '--image', 'i', '--workspace', 'w']),
    ).toThrow('--listen must be host:port or ipc');
    expect(() =>
      parseWorkerArgs(['--listen', 'ipc', '--nsm', 'tpm', '--image', 'i', '--workspace', 'w']),
    ).toThrow('--nsm must be device or simulated');
    expect(
      parseWorkerArgs([
        '--listen',
        '127.0.0.1:5000',
        '--nsm',
        'device',
        '--image',
        'i',
        '--workspace',
        'w',
      ]),
    ).toMatchObject({
      listen: { kind: 'tcp', host: '127.0.0.1', port: 5000 },
      nsm: { kind: 'device', helper: '/usr/local/bin/tee-nsm' },
    });
  });

  it('when --jail, --build-user or --nsm-device are given, they are parsed and checked', () => {
    const base = ['--listen', '127.0.0.1:5000', '--image', 'i', '--workspace', 'w'];
    expect(
      parseWorkerArgs([...base, '--nsm', 'device', '--jail', '/usr/local/bin/tee-jail']),
    ).toMatchObject({ jail: { helper: '/usr/local/bin/tee-jail', uid: 10001, gid: 10001 } });
    expect(
      parseWorkerArgs([
        ...base,
        '--nsm',
        'device',
        '--jail',
        'j',
        '--build-user',
        '2000:2001',
        '--nsm-device',
        '/dev/nsm0',
      ]),
    ).toMatchObject({ jail: { helper: 'j', uid: 2000, gid: 2001 }, nsmDevice: '/dev/nsm0' });
    expect(() =>
      parseWorkerArgs([...base, '--nsm', 'device', '--jail', 'j', '--build-user', '0:0']),
    ).toThrow('--build-user must be <uid>:<gid>');
    expect(() => parseWorkerArgs([...base, '--nsm', 'device', '--build-user', '5:5'])).toThrow(
      '--build-user needs --jail',
    );
    expect(() => parseWorkerArgs([...base, '--nsm', 'device', '--jail', ''])).toThrow(
      '--jail needs the path of tee-jail',
    );
    expect(() =>
      parseWorkerArgs([...base, '--nsm', 'simulated', '--nsm-device', '/dev/nsm']),
    ).toThrow('--nsm-device needs --nsm device');
  });

  it('when the package version changes, the worker version recorded in provenance follows it', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(WORKER_VERSION).toBe(pkg.version);
  });
});
