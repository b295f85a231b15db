/**
 * The nitro backend on a stand-in Nitro host (test/support/nitro/nitro-standin.ts): what it asks
 * nitro-cli for, how it boots, bridges and ends enclaves, how it refuses what cannot run, how it
 * handles every `[ Exx ]` it meets, and what its crash cleanup touches (only its own leftovers).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeEifFile, writeEifFile } from '../../src/eif/node.js';
import type { EifInput } from '../../src/eif/index.js';
import type { ImageCatalog } from '../../src/catalog/index.js';
import type { NitroBackendOptions } from '../../src/enclave/nitro.js';
import type { NitroBackendConfigInput } from '../../src/enclave/nitro-config.js';
import { NitroBackend } from '../../src/enclave/nitro.js';
import type { NitroError } from '../../src/enclave/nitro-errors.js';
import { isNitroError } from '../../src/enclave/nitro-errors.js';
import type { EnclaveSpec } from '../../src/enclave/types.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';
import { killEnclave } from '../support/nitro/nitro-standin-state.js';

let host: StandinHost;
let worker: string;
const scripts: Record<'hang' | 'exit' | 'quit', string> = { hang: '', exit: '', quit: '' };

/** Workers that misbehave on purpose. `quit` answers probes as the worker does and exits on QUIT. */
const SCRIPTS = {
  hang: 'setInterval(() => undefined, 1 << 30);\n',
  exit: 'process.exit(3);\n',
  quit: `import { createServer } from 'node:net';
const [h, p] = process.argv[process.argv.indexOf('--listen') + 1].split(':');
createServer((s) => s.on('data', (d) => {
  const t = d.toString();
  if (t.startsWith('QUIT')) process.exit(0);
  if (t.startsWith('GET')) s.end('HTTP/1.1 426 Upgrade Required\\r\\nconnection: close\\r\\ncontent-length: 0\\r\\n\\r\\n');
})).listen(Number(p), h);
`,
};

beforeAll(async () => {
  host = await createStandinHost();
  worker = host.config().workerEntry;
  for (const k of Object.keys(SCRIPTS) as (keyof typeof SCRIPTS)[]) {
    scripts[k] = join(host.dir, `${k}.mjs`);
    await writeFile(scripts[k], SCRIPTS[k]);
  }
});
afterAll(async () => {
  await host.remove();
});

const spec = (over: Partial<EnclaveSpec> = {}): EnclaveSpec => ({
  buildId: randomUUID(),
  image: { name: 'go', version: '0.1.0', language: 'go' },
  cpus: 1,
  memoryMiB: 256,
  timeoutMs: 120_000,
  ...over,
});

function backend(
  over: Partial<NitroBackendConfigInput> = {},
  opts: NitroBackendOptions = {},
): NitroBackend {
  return new NitroBackend(host.backendConfig(over), { catalog: host.catalog, ...opts });
}

async function refusal(p: Promise<unknown>): Promise<NitroError> {
  const e = await p.then(
    () => new Error('expected a refusal'),
    (err: unknown) => err,
  );
  if (!isNitroError(e)) throw e instanceof Error ? e : new Error(String(e));
  return e;
}

/** Runs `fn` with the host's enclaves running `script` instead of the worker. */
async function withWorker<T>(script: string, fn: () => Promise<T>): Promise<T> {
  host.configure({ workerEntry: script });
  try {
    return await fn();
  } finally {
    host.configure({ workerEntry: worker });
  }
}

/** An images directory whose go image is `input`, and a catalog publishing it. */
async function customImage(
  name: string,
  input: EifInput,
): Promise<{ imagesDir: string; catalog: ImageCatalog }> {
  const imagesDir = join(host.dir, name);
  await mkdir(imagesDir, { recursive: true });
  const file = join(imagesDir, 'go-0.1.0.eif');
  await writeEifFile(file, input);
  const m = (await describeEifFile(file)).measurements;
  const pcrs = { pcr0: m.pcr0, pcr1: m.pcr1, pcr2: m.pcr2 };
  const catalog: ImageCatalog = {
    ...host.catalog,
    images: host.catalog.images.map((i) =>
      i.name === 'go' ? { ...i, pcrs, simulated: pcrs, eif: null } : i,
    ),
  };
  return { imagesDir, catalog };
}

const lastRun = (): string[] => host.runCalls().at(-1)!;
/** The memory nitro-cli requires for the EIF of image `name`: 4 × its size in whole MiB. */
const imageMiB = (name: string): number =>
  4 * Math.ceil(statSync(host.eifs[name]!).size / (1024 * 1024));
/** Resolves once `cond` holds (polled). */
async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** How often terminate-enclave was called for `id`. */
const terminations = (id: string): number =>
  host.calls().filter((c) => c.argv[0] === 'terminate-enclave' && c.argv.includes(id)).length;
const flag = (argv: string[], name: string): string | undefined => argv[argv.indexOf(name) + 1];

describe('nitro backend lifecycle', () => {
  it('when started, it runs nitro-cli with the build’s name, a CID of its own, production mode, and stops by id', async () => {
    const b = backend();
    const s = spec();
    const enclave = await b.start(s);
    expect(enclave.state).toBe('running');
    const argv = lastRun();
    expect(argv).toEqual([
      'run-enclave',
      '--eif-path',
      host.eifs['go'],
      '--cpu-count',
      '2',
      '--memory',
      // The build's 256 MiB and the image's 4 × ⌈EIF MiB⌉ (no input sizes given).
      String(256 + imageMiB('go')),
      '--enclave-cid',
      expect.stringMatching(/^\d+$/),
      '--enclave-name',
      `tee-compile-test-${s.buildId}`,
    ]);
    const cid = Number(flag(argv, '--enclave-cid'));
    expect(cid).toBeGreaterThanOrEqual(10_000);
    expect(cid).toBeLessThanOrEqual(999_999);
    expect(enclave.isolation).toMatchObject({
      backend: 'nitro',
      network: 'enclave',
      filesystem: 'enclave',
      memory: 'enclave',
    });
    expect(enclave.isolation.notes?.join('\n')).toContain(`CID ${cid}`);
    expect(host.enclaves().map((r) => r.id)).toEqual([enclave.id]);

    const stream = await enclave.connect();
    await expect(enclave.connect()).rejects.toHaveCode('ENCLAVE_CONNECT_FAILED');
    stream.destroy();
    await enclave.stop();
    await expect(enclave.exited).resolves.toMatchObject({ state: 'stopped', reason: 'stopped' });
    expect(enclave.state).toBe('stopped');
    expect(host.enclaves()).toEqual([]);
    expect(terminations(enclave.id)).toBe(1);
    await enclave.stop();
  });

  it('when the build asks for an odd vCPU count, little memory and debug mode, it gives whole cores, enough memory for the EIF, and --debug-mode', async () => {
    const { imagesDir, catalog } = await customImage(
      'big',
      host.eifInput({ kernel: new Uint8Array(20 * 1024 * 1024) }),
    );
    const b = backend({ imagesDir }, { catalog });
    const enclave = await b.start(spec({ cpus: 3, memoryMiB: 64, debug: true }));
    const argv = lastRun();
    expect(flag(argv, '--cpu-count')).toBe('4');
    // The build's 64 MiB and 4 × ⌈EIF size in MiB⌉: 20 MiB and a little -> 21 -> 84 (nitro-cli
    // would refuse less than 84: E26).
    expect(flag(argv, '--memory')).toBe('148');
    expect(argv.at(-1)).toBe('--debug-mode');
    expect(host.enclaves()[0]).toMatchObject({ debug: true, memoryMiB: 148 });
    await enclave.stop();
  });

  it('when the input sizes are given, the memory holds the inputs beside the build and the image, and the isolation says how it is made up', async () => {
    const MiB = 1024 * 1024;
    const enclave = await backend().start({
      ...spec(),
      inputs: { sourceBytes: 3 * MiB, depsBytes: 10 * MiB },
    });
    // 2 × the source archive and 6 × the dependency set: 6 + 60 MiB.
    const total = 256 + imageMiB('go') + 66;
    expect(flag(lastRun(), '--memory')).toBe(String(total));
    expect(host.enclaves()[0]).toMatchObject({ memoryMiB: total });
    expect(enclave.isolation.notes).toEqual(
      expect.arrayContaining([
        expect.stringContaining(
          `${total} MiB (build 256 + image ${imageMiB('go')} + inputs 66 MiB;`,
        ),
      ]),
    );
    await enclave.stop();
  });

  it('when the enclave outlives its time limit, it is terminated with reason timeout', async () => {
    const enclave = await backend().start(spec({ timeoutMs: 2500 }));
    const exit = await enclave.exited;
    expect(exit).toMatchObject({ state: 'failed', reason: 'timeout' });
    expect(exit.message).toContain('time limit of 3 s');
    expect(host.enclaves()).toEqual([]);
  });

  it('when the worker exits by itself, exited says so and the enclave is gone', async () => {
    await withWorker(scripts.quit, async () => {
      const enclave = await backend().start(spec());
      const stream = await enclave.connect();
      stream.write('QUIT\n');
      const exit = await enclave.exited;
      expect(exit.reason).toBe('exited');
      expect(host.enclaves()).toEqual([]);
      // Nothing is left to terminate.
      await enclave.stop();
      expect(host.calls().filter((c) => c.argv.includes(enclave.id))).toEqual([]);
    });
  });
});

describe('nitro backend stop', () => {
  it('when the enclave ended just before stop, terminate-enclave’s E11 is taken as already gone', async () => {
    const enclave = await backend({ pollIntervalMs: 60_000 }).start(spec());
    killEnclave(host.enclaves().find((r) => r.id === enclave.id)!);
    await enclave.stop();
    await expect(enclave.exited).resolves.toMatchObject({ state: 'stopped', reason: 'stopped' });
    expect(terminations(enclave.id)).toBe(1);
    expect(host.enclaves()).toEqual([]);
  });
});

describe('nitro backend boot', () => {
  it('when the worker never answers, start fails with BOOT_TIMEOUT and the enclave is terminated', async () => {
    await withWorker(scripts.hang, async () => {
      const e = await refusal(backend({ bootTimeoutSeconds: 1.5 }).start(spec()));
      expect(e).toHaveCode('ENCLAVE_START_FAILED');
      expect(e.failure).toBe('BOOT_TIMEOUT');
      expect(e.message).toContain('did not answer within 2 s');
      expect(host.enclaves()).toEqual([]);
      // The hanging worker never exits by itself: the backend terminated the enclave.
      const id = /enclave (i-[0-9a-f]+-enc[0-9a-f]+)/.exec(e.message)?.[1];
      expect(terminations(id!)).toBe(1);
    });
  });

  it('when the bridge command is not installed, start fails at once with BRIDGE_FAILED and the enclave is terminated', async () => {
    const e = await refusal(
      backend({
        bridgeCommand: [join(host.dir, 'no-socat'), '-', 'VSOCK-CONNECT:{cid}:{port}'],
      }).start(spec()),
    );
    expect(e).toMatchObject({ code: 'ENCLAVE_START_FAILED', failure: 'BRIDGE_FAILED' });
    expect(e.message).toContain('install socat');
    const id = /enclave (i-[0-9a-f]+-enc[0-9a-f]+)/.exec(e.message)?.[1];
    expect(terminations(id!)).toBe(1);
    expect(host.enclaves()).toEqual([]);
  });

  it('when the worker exits while booting, start fails with BOOT_FAILED', async () => {
    await withWorker(scripts.exit, async () => {
      const e = await refusal(backend().start(spec()));
      expect(e.failure).toBe('BOOT_FAILED');
      expect(e.message).toContain('ended while booting');
      expect(host.enclaves()).toEqual([]);
    });
  });

  it('when the start is cancelled while the worker boots, it fails at once with CANCELLED and the enclave is terminated', async () => {
    await withWorker(scripts.hang, async () => {
      const abort = new AbortController();
      const starting = backend({ bootTimeoutSeconds: 120 }).start({
        ...spec(),
        signal: abort.signal,
      });
      const settled = starting.then(
        () => undefined,
        () => undefined,
      );
      await until(() => host.enclaves().length === 1);
      const id = host.enclaves()[0]!.id;
      const t0 = Date.now();
      abort.abort();
      const e = await refusal(starting);
      await settled;
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(e).toMatchObject({ code: 'ENCLAVE_START_FAILED', failure: 'CANCELLED' });
      expect(e.message).toContain(`enclave ${id}`);
      expect(terminations(id)).toBe(1);
      expect(host.enclaves()).toEqual([]);
    });
  });

  it('when the start is cancelled before it begins, nitro-cli does not start an enclave', async () => {
    const abort = new AbortController();
    abort.abort();
    const before = host.runCalls().length;
    const e = await refusal(backend().start({ ...spec(), signal: abort.signal }));
    expect(e.failure).toBe('CANCELLED');
    expect(host.runCalls().length).toBe(before);
  });

  it('when the EIF does not boot (E36), start fails naming E36, without retrying', async () => {
    const input = host.eifInput();
    const { imagesDir, catalog } = await customImage('unbootable', {
      ...input,
      ramdisks: [input.ramdisks[0]!, new TextEncoder().encode('no image here')],
    });
    const before = host.runCalls().length;
    const e = await refusal(backend({ imagesDir }, { catalog }).start(spec()));
    expect(e).toHaveCode('ENCLAVE_START_FAILED');
    expect(e.nitroCli?.code).toBe('E36');
    expect(e.message).toContain('nitro-cli run-enclave failed with E36');
    expect(host.runCalls().length - before).toBe(1);
  });
});

describe('nitro backend image checks', () => {
  it('when the images directory has no EIF for the image, start is refused before nitro-cli runs', async () => {
    const empty = join(host.dir, 'empty-images');
    await mkdir(empty, { recursive: true });
    const before = host.runCalls().length;
    const e = await refusal(backend({ imagesDir: empty }).start(spec()));
    expect(e.failure).toBe('EIF_MISSING');
    expect(e.message).toContain('go-0.1.0.eif');
    expect(host.runCalls().length).toBe(before);
  });

  it('when the EIF cannot be read as one, start is refused with EIF_UNREADABLE before nitro-cli runs', async () => {
    const junk = join(host.dir, 'junk-images');
    await mkdir(junk, { recursive: true });
    await writeFile(join(junk, 'go-0.1.0.eif'), Buffer.alloc(600, 0x41));
    const before = host.runCalls().length;
    const e = await refusal(backend({ imagesDir: junk }).start(spec()));
    expect(e.failure).toBe('EIF_UNREADABLE');
    expect(e.path).toBe('image');
    expect(host.runCalls().length).toBe(before);
  });

  it('when the EIF’s digest or PCRs are not the catalog’s, start is refused', async () => {
    const go = host.catalog.images.find((i) => i.name === 'go')!;
    const wrongDigest: ImageCatalog = {
      ...host.catalog,
      images: host.catalog.images.map((i) =>
        i === go ? { ...i, eif: { ...i.eif!, sha256: '0'.repeat(64) } } : i,
      ),
    };
    expect((await refusal(backend({}, { catalog: wrongDigest }).start(spec()))).failure).toBe(
      'EIF_DIGEST_MISMATCH',
    );
    const otherPcr = { ...go.simulated, pcr2: 'a'.repeat(96) };
    const wrongPcrs: ImageCatalog = {
      ...host.catalog,
      images: host.catalog.images.map((i) =>
        i === go ? { ...i, simulated: otherPcr, eif: null } : i,
      ),
    };
    const e = await refusal(backend({}, { catalog: wrongPcrs }).start(spec()));
    expect(e.failure).toBe('EIF_MEASUREMENT_MISMATCH');
    expect(e.message).toContain('PCR2');
  });

  it('when not simulating, it checks the real PCRs and refuses images not yet measured', async () => {
    const unmeasured: ImageCatalog = {
      ...host.catalog,
      images: host.catalog.images.map((i) => ({ ...i, pcrs: null, eif: null })),
    };
    const e = await refusal(backend({ simulation: false }, { catalog: unmeasured }).start(spec()));
    expect(e).toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(e.failure).toBe('IMAGE_NOT_MEASURED');
    const enclave = await backend({ simulation: false }).start(spec());
    await enclave.stop();
  });
});

describe('nitro backend resources and nitro-cli refusals', () => {
  it('when more vCPUs or memory than the pool has are asked for, nitro-cli’s E22 and E27 become spec refusals', async () => {
    const cpus = await refusal(backend().start(spec({ cpus: 14 })));
    expect(cpus).toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(cpus.nitroCli?.code).toBe('E22');
    const memory = await refusal(backend().start(spec({ memoryMiB: 20_000 })));
    expect(memory).toHaveCode('ENCLAVE_SPEC_INVALID');
    expect(memory.nitroCli?.code).toBe('E27');
  });

  it('when the pool is configured, what cannot fit is refused before nitro-cli runs', async () => {
    const pool = { cpus: 8, memoryMiB: 16_384 };
    const before = host.runCalls().length;
    const cpus = await refusal(backend({ pool }).start(spec({ cpus: 10 })));
    expect(cpus).toMatchObject({
      code: 'ENCLAVE_SPEC_INVALID',
      failure: 'RESOURCES_UNAVAILABLE',
      path: 'cpus',
    });
    expect(cpus.message).toContain('E22');
    const memory = await refusal(backend({ pool }).start(spec({ memoryMiB: 20_000 })));
    expect(memory).toMatchObject({ failure: 'RESOURCES_UNAVAILABLE', path: 'memoryMiB' });
    expect(host.runCalls().length).toBe(before);

    const first = await backend({ pool: { cpus: 2, memoryMiB: 16_384 } }).start(spec());
    const busy = await refusal(backend({ pool: { cpus: 2, memoryMiB: 16_384 } }).start(spec()));
    expect(busy).toMatchObject({ code: 'ENCLAVE_START_FAILED', failure: 'RESOURCES_UNAVAILABLE' });
    expect(busy.message).toContain('only 0 vCPUs');
    await first.stop();
  });

  it('when four enclaves run, a fifth is refused before nitro-cli runs', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await host.nitro([
        'run-enclave',
        '--eif-path',
        host.eifs['go']!,
        '--cpu-count',
        '2',
        '--memory',
        '128',
        '--enclave-name',
        `filler-${i}`,
      ]);
      ids.push((JSON.parse(r.stdout) as { EnclaveID: string }).EnclaveID);
    }
    const e = await refusal(backend().start(spec()));
    expect(e.failure).toBe('RESOURCES_UNAVAILABLE');
    expect(e.message).toContain('already runs 4 enclaves');
    for (const id of ids) await host.nitro(['terminate-enclave', '--enclave-id', id]);
  });

  it('when the CID picked is held by an enclave it cannot see (E29), it retries with another CID', async () => {
    const hidden = await host.nitro(
      [
        'run-enclave',
        '--eif-path',
        host.eifs['go']!,
        '--cpu-count',
        '2',
        '--memory',
        '128',
        '--enclave-cid',
        '40000',
      ],
      'other',
    );
    expect(hidden.code).toBe(0);
    const before = host.runCalls().length;
    const enclave = await backend(
      { cidRange: { min: 40_000, max: 40_001 } },
      { random: () => 0 },
    ).start(spec());
    const attempts = host.runCalls().slice(before);
    expect(attempts.map((a) => flag(a, '--enclave-cid'))).toEqual(['40000', '40001']);
    expect(host.enclaves().find((r) => r.id === enclave.id)?.cid).toBe(40_001);
    await enclave.stop();
    await host.nitro(
      [
        'terminate-enclave',
        '--enclave-id',
        (JSON.parse(hidden.stdout) as { EnclaveID: string }).EnclaveID,
      ],
      'other',
    );
  });

  it('when every CID of the range is taken, start is refused with CID_UNAVAILABLE', async () => {
    const b = backend({ cidRange: { min: 40_002, max: 40_002 } });
    const first = await b.start(spec());
    try {
      const before = host.runCalls().length;
      const e = await refusal(b.start(spec()));
      expect(e.failure).toBe('CID_UNAVAILABLE');
      expect(e.code).toBe('ENCLAVE_START_FAILED');
      expect(host.runCalls().length).toBe(before);
    } finally {
      await first.stop();
    }
  });

  it('when nitro-cli is not installed, start fails saying so', async () => {
    const e = await refusal(backend({ nitroCli: join(host.dir, 'no-nitro-cli') }).start(spec()));
    expect(e.failure).toBe('NITRO_CLI_FAILED');
    expect(e.message).toContain('not found');
  });

  it('when two builds start at once, they get distinct CIDs and names and both run', async () => {
    const b = backend();
    const [x, y] = await Promise.all([b.start(spec()), b.start(spec())]);
    expect(x.id).not.toBe(y.id);
    const records = host.enclaves();
    const cids = records.map((r) => r.cid);
    expect(new Set(cids).size).toBe(2);
    expect(new Set(records.map((r) => r.name)).size).toBe(2);
    await Promise.all([x.stop(), y.stop()]);
    expect(host.enclaves()).toEqual([]);
  });
});

describe('nitro backend crash cleanup', () => {
  /** An enclave started with nitro-cli directly, as a crashed process would have left it. */
  const start = async (name: string, user?: string): Promise<string> => {
    const r = await host.nitro(
      [
        'run-enclave',
        '--eif-path',
        host.eifs['go']!,
        '--cpu-count',
        '2',
        '--memory',
        '128',
        '--enclave-name',
        name,
      ],
      user,
    );
    return (JSON.parse(r.stdout) as { EnclaveID: string }).EnclaveID;
  };

  it('when a crash left enclaves of this owner, cleanupOrphans terminates those only', async () => {
    const leftover = await start('tee-compile-test-crashed-build');
    const otherOwner = await start('tee-compile-other-build');
    const foreign = await start('someone-elses-app');
    const live = await backend().start(spec());
    const hidden = await start('tee-compile-test-other-user', 'other');

    const removed = await backend().cleanupOrphans();
    expect(removed).toEqual([leftover]);
    const running = host
      .enclaves()
      .map((r) => r.id)
      .sort();
    expect(running).toEqual([otherOwner, foreign, live.id, hidden].sort());

    const kept = await start('tee-compile-test-kept');
    expect(await backend().cleanupOrphans(new Set([kept]))).toEqual([]);
    expect(host.enclaves().map((r) => r.id)).toContain(kept);

    await live.stop();
    for (const id of [otherOwner, foreign, kept])
      await host.nitro(['terminate-enclave', '--enclave-id', id]);
    await host.nitro(['terminate-enclave', '--enclave-id', hidden], 'other');
  });

  it('when given a test, cleanupOrphans terminates the enclaves of this owner the test does not keep, and never one of this process', async () => {
    const dead = await start('tee-compile-test-cli-1.1-dead');
    const going = await start('tee-compile-test-cli-2.2-going');
    const foreign = await start('tee-compile-other-cli-1.1-dead');
    const live = await backend().start(spec({ buildId: 'cli-3.3-mine' }));
    const asked: { name: string; id: string }[] = [];
    const removed = await backend().cleanupOrphans(async (e) => {
      asked.push(e);
      return Promise.resolve(!e.name.endsWith('-dead'));
    });
    expect(removed).toEqual([dead]);
    // Only this owner's enclaves are asked about, and not the ones this process runs.
    expect(asked.map((e) => e.id).sort()).toEqual([dead, going].sort());
    expect(host.enclaves().map((r) => r.id)).toEqual(
      expect.arrayContaining([going, foreign, live.id]),
    );
    await live.stop();
    for (const id of [going, foreign]) await host.nitro(['terminate-enclave', '--enclave-id', id]);
  });

  it('when enclaves were terminated on every path above, it never used --all', async () => {
    const log = await readFile(join(host.stateDir, 'calls.jsonl'), 'utf8');
    expect(log).toContain('terminate-enclave');
    expect(host.calls().filter((c) => c.argv.includes('--all'))).toEqual([]);
  });
});
