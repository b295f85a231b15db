/**
 * `tee-compile build` as a real process receiving real signals, on the local backend and on a
 * stand-in Nitro host: SIGTERM, SIGINT and SIGHUP cancel the build and the command stops the
 * enclave and removes its files before it exits (128 + n); a second signal does not cut that
 * short, a third exits at once; a later run removes what a killed run left, and only that.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestRepo } from '../support/source/build-repo.js';
import { goProject, makeRepo } from '../support/source/build-repo.js';
import type { StandinHost } from '../support/nitro/nitro-standin.js';
import { createStandinHost } from '../support/nitro/nitro-standin.js';
import { bundleForNode, workerBundle } from '../support/processes/sandbox-worker.js';
import { tmpdirForKilledProcesses } from '../support/temp.js';
import { REMOVING_PREFIX } from '../../src/enclave/local.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CATALOG = join(ROOT, 'enclave', 'images.json');

let work: string;
let cli: string;
const repos: TestRepo[] = [];

/** `tee-compile build` bundled into one script, run as `node <script> <args>`. */
async function bundleCli(dir: string): Promise<string> {
  const entry = join(dir, 'entry.ts');
  await writeFile(
    entry,
    `import { run } from ${JSON.stringify(join(ROOT, 'src/cli/commands/build.ts'))};
const io = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
run(process.argv.slice(2), io).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(\`internal error: \${err?.stack ?? err}\\n\`); process.exitCode = 2; },
);
`,
  );
  return bundleForNode(entry, join(dir, 'build-cli.mjs'));
}

/** A running `tee-compile build`. */
interface Cli {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves when `text` has appeared on stderr. */
  saw: (text: string | RegExp) => Promise<void>;
  /** The exit status (`signal` when a signal ended it unhandled). */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCli(args: string[], env: NodeJS.ProcessEnv): Cli {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const saw = async (text: string | RegExp): Promise<void> => {
    const found = (): boolean => (typeof text === 'string' ? err.includes(text) : text.test(err));
    const end = Date.now() + 60_000;
    let exited = false;
    void exit.then(() => (exited = true));
    while (!found()) {
      if (exited || Date.now() > end)
        throw new Error(`never saw ${String(text)} on stderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, stderr: () => err, saw, exit };
}

/** Resolves with the exit, or fails after `ms`. */
async function exitWithin(c: Cli, ms: number): Promise<{ code: number | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${c.stderr()}`)), ms);
  });
  try {
    return await Promise.race([c.exit, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pids of processes (not this one) whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmdline = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(text)) pids.push(Number(p));
  }
  return pids;
}

const list = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

/** This process's `<pid>.<start time>` as the command stamps its builds. */
async function ownStamp(): Promise<string> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const start = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .at(22 - 3);
  return `${process.pid}.${start}`;
}

// Processes are killed here on purpose; what they leave in TMPDIR goes with this file.
tmpdirForKilledProcesses();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tc-cli-signals-'));
  cli = await bundleCli(work);
});
afterAll(async () => {
  for (const r of repos) await r.remove();
  await rm(work, { recursive: true, force: true });
});

async function repo(cmd: string): Promise<TestRepo> {
  const r = await makeRepo(goProject(cmd));
  repos.push(r);
  return r;
}

describe('tee-compile build --local and signals', () => {
  /** A temporary directory of its own (so the backend's state directory is too). */
  let n = 0;
  async function localEnv(): Promise<{ env: NodeJS.ProcessEnv; state: string }> {
    const tmp = join(work, `tmp-${n++}`);
    await mkdir(tmp);
    return {
      env: {
        TMPDIR: tmp,
        XDG_CACHE_HOME: join(tmp, 'cache'),
        TEE_COMPILE_WORKER: await workerBundle(),
      },
      state: join(tmp, `tee-compile-${process.getuid?.() ?? 'user'}`),
    };
  }
  const localArgs = (r: TestRepo, out: string): string[] => [
    r.dir,
    '--local',
    '--images',
    CATALOG,
    '--out',
    out,
  ];
  /** The enclave id the command reports once its enclave runs. */
  const enclaveId = (c: Cli): string => /enclave (local-\S+) running/.exec(c.stderr())![1]!;
  /**
   * Nothing of any build is left in the state directory, once a workspace moved aside
   * (`.removing-*`, an unisolated build's) is gone: its removal runs in the background after the
   * command returns.
   */
  async function expectNoLeftovers(state: string): Promise<void> {
    const builds = join(state, 'builds');
    for (let i = 0; i < 300; i++) {
      if (!(await list(builds)).some((n) => n.startsWith(REMOVING_PREFIX))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await list(builds)).toEqual([]);
    expect(await list(join(state, 'meta'))).toEqual([]);
    expect(await list(join(state, 'run'))).toEqual([]);
  }

  let slow: TestRepo;
  beforeAll(async () => {
    slow = await repo('echo started; sleep 60; echo done > out.txt');
  });

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`when ${sig} arrives during the build, the sandbox is killed, its directories are removed, and the command exits 128 + n`, async () => {
      const { env, state } = await localEnv();
      const c = startCli(localArgs(slow, join(work, `${sig}.tar.gz`)), env);
      await c.saw('  | started');
      const id = enclaveId(c);
      // What a build has on the host while it runs: its meta folder (its workspace is a tmpfs
      // inside the sandbox) and its run record.
      expect(await list(join(state, 'meta'))).toEqual([id]);
      expect(await list(join(state, 'builds'))).toEqual([]);
      c.child.kill(sig);
      const { code } = await exitWithin(c, 15_000);
      expect(code).toBe({ SIGTERM: 143, SIGINT: 130, SIGHUP: 129 }[sig]);
      expect(c.stderr()).toContain(`${sig}: cancelling the build and stopping the enclave`);
      expect(c.stderr()).toContain(`cancelled (${sig}); the enclave was stopped`);
      await expectNoLeftovers(state);
      expect(await processesMentioning(id)).toEqual([]);
    });
  }

  it('when a second signal arrives while the enclave is being stopped, the command still stops it and cleans up first', async () => {
    const { env, state } = await localEnv();
    const c = startCli(localArgs(slow, join(work, 'twice.tar.gz')), env);
    await c.saw('  | started');
    const id = enclaveId(c);
    // Two different signals: the kernel merges a second SIGINT still pending with the first.
    c.child.kill('SIGINT');
    c.child.kill('SIGTERM');
    const { code } = await exitWithin(c, 15_000);
    // Node may run the handlers of two signals that arrive together in either order.
    const first = /(SIGINT|SIGTERM): cancelling the build/.exec(c.stderr())?.[1];
    expect(first).toBeDefined();
    expect(code).toBe(first === 'SIGINT' ? 130 : 143);
    expect(c.stderr()).toContain(
      `${first === 'SIGINT' ? 'SIGTERM' : 'SIGINT'}: still stopping the enclave`,
    );
    await expectNoLeftovers(state);
    expect(await processesMentioning(id)).toEqual([]);
  });

  it('when a third signal arrives, the command exits at once, and the next run removes what it left', async () => {
    const { env, state } = await localEnv();
    const c = startCli(localArgs(slow, join(work, 'thrice.tar.gz')), env);
    await c.saw('  | started');
    const id = enclaveId(c);
    // Three different signals (pending ones of one kind merge); whichever is handled last exits.
    c.child.kill('SIGINT');
    c.child.kill('SIGTERM');
    c.child.kill('SIGHUP');
    const { code } = await exitWithin(c, 15_000);
    const last = /(SIGINT|SIGTERM|SIGHUP): exiting without waiting/.exec(c.stderr())?.[1];
    expect(last).toBeDefined();
    expect(code).toBe({ SIGINT: 130, SIGTERM: 143, SIGHUP: 129 }[last!]);
    // Left behind, unless the stop won the race with the exit.
    const left = await list(join(state, 'meta'));
    expect([[], [id]]).toContainEqual(left);

    const quick = await repo('echo quick > out.txt');
    const next = startCli(localArgs(quick, join(work, 'after-thrice.tar.gz')), env);
    expect((await exitWithin(next, 60_000)).code).toBe(0);
    if (left.length > 0)
      expect(next.stderr()).toContain(`removed ${id}, left by an earlier build that was killed`);
    await expectNoLeftovers(state);
    expect(await processesMentioning(id)).toEqual([]);
  });

  it('when a run was killed with SIGKILL, the next run removes its files, but not those of a run still going', async () => {
    const { env, state } = await localEnv();
    const going = startCli(localArgs(slow, join(work, 'going.tar.gz')), env);
    await going.saw('  | started');
    const goingId = enclaveId(going);
    const killed = startCli(localArgs(slow, join(work, 'killed.tar.gz')), env);
    await killed.saw('  | started');
    const killedId = enclaveId(killed);
    killed.child.kill('SIGKILL');
    expect((await killed.exit).signal).toBe('SIGKILL');
    expect((await list(join(state, 'meta'))).sort()).toEqual([goingId, killedId].sort());

    const quick = await repo('echo quick > out.txt');
    const next = startCli(localArgs(quick, join(work, 'next.tar.gz')), env);
    expect((await exitWithin(next, 60_000)).code).toBe(0);
    expect(next.stderr()).toContain(
      `removed ${killedId}, left by an earlier build that was killed`,
    );
    expect(next.stderr()).not.toContain(goingId);
    expect(await list(join(state, 'meta'))).toEqual([goingId]);
    expect(await processesMentioning(killedId)).toEqual([]);

    going.child.kill('SIGTERM');
    expect((await exitWithin(going, 15_000)).code).toBe(143);
    await expectNoLeftovers(state);
  });
});

describe('tee-compile build --backend nitro and signals (stand-in host)', () => {
  let host: StandinHost;
  let nitroConfig: string;
  let images: string;
  let hang: string;
  let worker: string;

  beforeAll(async () => {
    host = await createStandinHost();
    worker = host.config().workerEntry;
    nitroConfig = join(work, 'nitro.json');
    await writeFile(
      nitroConfig,
      JSON.stringify(host.backendConfig({ owner: 'sig', bootTimeoutSeconds: 120 })),
    );
    images = join(work, 'images.json');
    await writeFile(images, JSON.stringify(host.catalog));
    hang = join(work, 'hang.mjs');
    await writeFile(hang, 'setInterval(() => undefined, 1 << 30);\n');
  });
  afterAll(async () => {
    host.configure({ workerEntry: worker });
    await host.remove();
  });

  const nitroArgs = (r: TestRepo, out: string): string[] => [
    r.dir,
    '--backend',
    'nitro',
    '--nitro-config',
    nitroConfig,
    '--images',
    images,
    '--out',
    out,
  ];
  const terminations = (id: string): number =>
    host.calls().filter((c) => c.argv[0] === 'terminate-enclave' && c.argv.includes(id)).length;

  it('when SIGTERM arrives while the enclave boots, the command stops waiting, terminates the enclave and exits 143', async () => {
    host.configure({ workerEntry: hang });
    try {
      const quick = await repo('echo quick > out.txt');
      const c = startCli(nitroArgs(quick, join(work, 'boot.tar.gz')), {});
      await until(() => host.enclaves().length === 1);
      const id = host.enclaves()[0]!.id;
      const t0 = Date.now();
      c.child.kill('SIGTERM');
      const { code } = await exitWithin(c, 15_000);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(code).toBe(143);
      expect(c.stderr()).toContain('cancelled (SIGTERM)');
      expect(host.enclaves()).toEqual([]);
      expect(terminations(id)).toBe(1);
    } finally {
      host.configure({ workerEntry: worker });
    }
  });

  it('when a run was killed with SIGKILL, the next run terminates its enclave, and no enclave of a run still going or named otherwise', async () => {
    host.configure({ workerEntry: hang });
    let killedId = '';
    try {
      const quick = await repo('echo quick > out.txt');
      const killed = startCli(nitroArgs(quick, join(work, 'killed-nitro.tar.gz')), {});
      await until(() => host.enclaves().length === 1);
      killedId = host.enclaves()[0]!.id;
      killed.child.kill('SIGKILL');
      await killed.exit;
    } finally {
      host.configure({ workerEntry: worker });
    }
    const filler = async (name: string): Promise<string> => {
      const r = await host.nitro([
        'run-enclave',
        '--eif-path',
        host.eifs['go']!,
        '--cpu-count',
        '2',
        '--memory',
        '128',
        '--enclave-name',
        name,
      ]);
      return (JSON.parse(r.stdout) as { EnclaveID: string }).EnclaveID;
    };
    // An enclave of a run still going (this test process), and one of another program.
    const live = await filler(`tee-compile-sig-cli-${await ownStamp()}-live`);
    const other = await filler('tee-compile-sig-agent-job');

    const quick = await repo('echo next > out.txt');
    const next = startCli(nitroArgs(quick, join(work, 'next-nitro.tar.gz')), {});
    const { code } = await exitWithin(next, 60_000);
    expect(next.stderr()).not.toContain('internal error');
    expect(code).toBe(0);
    expect(next.stderr()).toContain(
      `removed ${killedId}, left by an earlier build that was killed`,
    );
    expect(terminations(killedId)).toBe(1);
    expect(
      host
        .enclaves()
        .map((e) => e.id)
        .sort(),
    ).toEqual([live, other].sort());
    for (const id of [live, other]) await host.nitro(['terminate-enclave', '--enclave-id', id]);
  });
});
