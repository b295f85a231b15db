/**
 * A stand-in for `nitro-cli` (aws-nitro-enclaves-cli 1.x) for machines without Nitro hardware:
 * the same subcommands and flags as far as the tests need them (run-enclave, describe-enclaves,
 * terminate-enclave, describe-eif), the same JSON on stdout (pretty-printed, the same keys in the
 * same order), the same `[ Exx ]` messages on stderr and the same exit statuses. Bundled by
 * test/support/nitro/nitro-standin.ts and run as an executable; its state lives in the directory named
 * by `NITRO_CLI_STANDIN_STATE` (see ./nitro-standin-state.ts).
 *
 * An "enclave" is the tee-compile worker started from the EIF's application ramdisk (the
 * simulated image descriptor, see src/enclave/images.ts) in simulated-NSM mode, with the EIF's
 * own measurements as its PCRs, detached in its own process group. Instead of a vsock CID it
 * listens on a loopback TCP port; the record maps CID and vsock port to that TCP port for the
 * stand-in bridge (./nitro-bridge-standin.ts).
 *
 * What nitro-cli does, and where (aws-nitro-enclaves-cli):
 *   - argument parsing and CID rules: `src/common/commands_parser.rs` (`parse_enclave_cid`:
 *     1, 2, 3 and u32::MAX refused, above u32 refused, 0 means auto-assigned; `parse_memory`:
 *     M/G/T suffixes);
 *   - enclave names: `src/lib.rs new_enclave_name` (default: the EIF file name; duplicates get
 *     `_1`, `_2`, …);
 *   - resource checks, in order: EIF open (E19), CPU pool size (E22, `enclave_proc/cpu_info.rs`),
 *     memory ≥ 4 × EIF size (E26, `enclave_proc/resource_manager.rs ENCLAVE_MEMORY_EIF_SIZE_RATIO`),
 *     hugepage allocation (E27), vCPUs (E29), start with full cores and a free CID (E29), boot
 *     heartbeat (E36);
 *   - output: `src/common/json_output.rs`, progress lines from `resource_manager.rs`.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type * as EifIndex from '../../../src/eif/index.js';
import type { EifDescription } from '../../../src/eif/index.js';
import type * as EifNode from '../../../src/eif/node.js';
import type { StandinErrorCode, StandinFailure } from './nitro-standin-errors.js';
import { NITRO_EXIT, StandinError, errorMessage } from './nitro-standin-errors.js';
import type { EnclaveRecord, StandinConfig } from './nitro-standin-state.js';
import {
  STATE_ENV,
  WORKER_VSOCK_PORT,
  consoleFile,
  isAlive,
  killEnclave,
  liveRecords,
  logCall,
  readConfig,
  removeRecord,
  standinUser,
  withLock,
  writeRecord,
} from './nitro-standin-state.js';

const VMADDR_CID_HOST = 2;
const VMADDR_CID_PARENT = 3;
const U32_MAX = 0xffff_ffff;
/** First CID the hypervisor hands out when none is asked for (observed: 16, 17, …). */
const FIRST_AUTO_CID = 16;
/** `ENCLAVE_MEMORY_EIF_SIZE_RATIO`. */
const MEMORY_EIF_RATIO = 4;
const ZERO_PCR = '0'.repeat(96);

/** A clap usage error: clap 2 prints `error: …` and exits with status 1. */
class UsageError extends Error {}

interface Parsed {
  values: Map<string, string[]>;
  flags: Set<string>;
}

/** Parses `--name value`, `--name=value`, flags and multi-value options as clap does. */
function parseArgs(
  args: string[],
  spec: { options: string[]; multi?: string[]; flags?: string[] },
): Parsed {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--'))
      throw new UsageError(
        `Found argument '${a}' which wasn't expected, or isn't valid in this context`,
      );
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (spec.flags?.includes(name)) {
      flags.add(name);
      continue;
    }
    if (!spec.options.includes(name))
      throw new UsageError(
        `Found argument '${a}' which wasn't expected, or isn't valid in this context`,
      );
    if (values.has(name))
      throw new UsageError(`The argument '--${name} <${name}>' was provided more than once`);
    const got: string[] = [];
    if (eq > 0) got.push(a.slice(eq + 1));
    else {
      while (i + 1 < args.length && !args[i + 1]!.startsWith('--')) {
        // clap takes `-18` for an unknown short flag, not a value (`test_parse_enclave_cid_negative`).
        if (args[i + 1]!.startsWith('-'))
          throw new UsageError(
            `Found argument '${args[i + 1]}' which wasn't expected, or isn't valid in this context`,
          );
        got.push(args[++i]!);
        if (!spec.multi?.includes(name)) break;
      }
    }
    if (got.length === 0)
      throw new UsageError(
        `The argument '--${name} <${name}>' requires a value but none was supplied`,
      );
    values.set(name, got);
  }
  return { values, flags };
}

function one(p: Parsed, name: string): string | undefined {
  return p.values.get(name)?.[0];
}

function requireArgs(p: Parsed, names: string[]): void {
  const missing = names.filter((n) => !p.values.has(n));
  if (missing.length > 0)
    throw new UsageError(
      `The following required arguments were not provided:\n${missing.map((n) => `    --${n} <${n}>`).join('\n')}`,
    );
}

function conflict(p: Parsed, a: string, b: string): void {
  if ((p.values.has(a) || p.flags.has(a)) && (p.values.has(b) || p.flags.has(b)))
    throw new UsageError(`The argument '--${a}' cannot be used with '--${b}'`);
}

function fail(code: StandinErrorCode, cause: string, info?: string[]): never {
  throw new StandinError({ code, cause, ...(info ? { info } : {}) });
}

/** `parse_enclave_cid`. */
function parseCid(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) fail('E03', '`enclave-cid` is not a number', ['enclave-cid', raw]);
  const cid = Number(raw);
  if (!Number.isSafeInteger(cid))
    fail('E03', '`enclave-cid` is not a number', ['enclave-cid', raw]);
  if (cid === 0)
    process.stderr.write('The enclave CID will be auto-generated as the provided CID is 0\n');
  // These three carry no additional info, so the message shows MISSING_INFO, as nitro-cli's does.
  if ((cid > 0 && cid <= VMADDR_CID_HOST) || cid === U32_MAX)
    fail('E03', `CID ${cid} is a well-known CID, not to be used for enclaves`);
  if (cid === VMADDR_CID_PARENT)
    fail('E03', `CID ${cid} is the CID of the parent VM, not to be used for enclaves`);
  if (cid > U32_MAX)
    fail('E03', `CID ${cid} is higher than the maximum supported (u32 max) for a vsock device`);
  return cid === 0 ? undefined : cid;
}

/** `parse_memory`: a number with an optional M, G or T suffix, in MiB. */
function parseMemory(raw: string): number {
  const m = /^(\d*)(.*)$/.exec(raw)!;
  const unit = { '': 1, M: 1, m: 1, G: 1024, g: 1024, T: 1024 * 1024, t: 1024 * 1024 }[m[2]!];
  if (m[1] === '' || !Number.isSafeInteger(Number(m[1])))
    fail('E03', '`memory` argument does not contain a number', ['memory', raw]);
  if (unit === undefined)
    fail('E03', '`memory` argument does not contain a valid size indicator', ['memory', raw]);
  return Number(m[1]) * unit;
}

function parseCount(raw: string | undefined, what: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) > U32_MAX)
    fail('E03', `\`${what}\` is not a number`, [what, raw]);
  return Number(raw);
}

interface RunArgs {
  eifPath: string;
  cid: number | undefined;
  memoryMiB: number;
  cpuCount: number | undefined;
  cpuIds: number[] | undefined;
  debug: boolean;
  name: string | undefined;
}

/** `RunEnclavesArgs::new_with`, same order of checks. */
function runArgs(args: string[]): RunArgs {
  const p = parseArgs(args, {
    options: [
      'eif-path',
      'cpu-count',
      'cpu-ids',
      'memory',
      'enclave-cid',
      'enclave-name',
      'config',
    ],
    multi: ['cpu-ids'],
    flags: ['debug-mode', 'attach-console'],
  });
  if (p.values.has('config'))
    throw new UsageError('the stand-in does not read --config files; give the flags');
  conflict(p, 'cpu-count', 'cpu-ids');
  if (!p.values.has('cpu-count') && !p.values.has('cpu-ids')) requireArgs(p, ['cpu-count']);
  requireArgs(p, ['memory', 'eif-path']);
  const cpuCount = parseCount(one(p, 'cpu-count'), 'cpu-count');
  const eifPath = one(p, 'eif-path')!;
  const cid = parseCid(one(p, 'enclave-cid'));
  const memoryMiB = parseMemory(one(p, 'memory')!);
  const cpuIds = p.values.get('cpu-ids')?.map((c) => parseCount(c, 'cpu-id')!);
  return {
    eifPath,
    cid,
    memoryMiB,
    cpuCount,
    cpuIds,
    debug: p.flags.has('debug-mode') || p.flags.has('attach-console'),
    name: one(p, 'enclave-name'),
  };
}

/** `new_enclave_name`. */
function enclaveName(a: RunArgs, taken: string[]): string {
  const base = a.name ?? basename(a.eifPath).replace(/\.eif$/, '');
  let name = base;
  for (let i = 1; taken.includes(name); i++) name = `${base}_${i}`;
  return name;
}

/** The image an EIF boots: its application ramdisk, when it is a simulated image descriptor. */
interface BootImage {
  name: string;
  version: string;
  language: string;
  toolchain: Record<string, string>;
}

const MAX_DESCRIPTOR_BYTES = 1024 * 1024;

/**
 * The EIF code, loaded only by the commands that read EIFs: describe-enclaves and
 * terminate-enclave start fast, as the backend polls them.
 */
async function eifCode(): Promise<{
  describeEifFile: typeof EifNode.describeEifFile;
  formatDescribeEifJson: typeof EifIndex.formatDescribeEifJson;
  sectionHeaderSize: number;
  simulatedFormat: string;
}> {
  const [node, index, images] = await Promise.all([
    import('../../../src/eif/node.js'),
    import('../../../src/eif/index.js'),
    import('../../../src/catalog/index.js'),
  ]);
  return {
    describeEifFile: node.describeEifFile,
    formatDescribeEifJson: index.formatDescribeEifJson,
    sectionHeaderSize: index.SECTION_HEADER_SIZE,
    simulatedFormat: images.SIMULATED_FORMAT,
  };
}

async function bootImage(path: string, d: EifDescription): Promise<BootImage | string> {
  const { sectionHeaderSize, simulatedFormat } = await eifCode();
  const ramdisks = d.sections.filter((s) => s.type === 'ramdisk');
  const app = ramdisks[ramdisks.length - 1];
  if (app === undefined || ramdisks.length < 2) return 'the EIF has no application ramdisk';
  if (app.size > MAX_DESCRIPTOR_BYTES) return 'the application ramdisk is not a simulated image';
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(app.size);
    await fh.read(buf, 0, app.size, app.offset + sectionHeaderSize);
    const json = JSON.parse(buf.toString('utf8')) as Partial<BootImage> & { format?: unknown };
    if (json.format !== simulatedFormat || typeof json.name !== 'string')
      return 'the application ramdisk is not a simulated image';
    return {
      name: json.name,
      version: String(json.version),
      language: String(json.language),
      toolchain: json.toolchain ?? {},
    };
  } catch {
    return 'the application ramdisk is not a simulated image';
  } finally {
    await fh.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** Picks the CPUs for `count` as the driver does: whole free cores first, then single threads. */
function pickCpus(cfg: StandinConfig, used: Set<number>, count: number): number[] | undefined {
  const picked: number[] = [];
  for (const core of cfg.cores) {
    if (picked.length >= count) break;
    if (core.some((c) => used.has(c))) continue;
    for (const c of core) if (picked.length < count) picked.push(c);
  }
  for (const core of cfg.cores)
    for (const c of core)
      if (picked.length < count && !used.has(c) && !picked.includes(c)) picked.push(c);
  return picked.length === count ? picked : undefined;
}

/** run-enclave, after argument parsing: what the enclave process does. Returns its JSON. */
async function runEnclave(state: string, a: RunArgs, user: string): Promise<string> {
  let eifSize = 0;
  try {
    closeSync(openSync(a.eifPath, 'r'));
    eifSize = statSync(a.eifPath).size;
  } catch (e) {
    fail('E19', `Failed to open the EIF file: ${(e as Error).message}`, [a.eifPath, 'Open']);
  }
  const cfg = readConfig(state);
  const poolCpus = cfg.cores.flat();
  if (a.cpuIds !== undefined) {
    for (const c of a.cpuIds)
      if (!poolCpus.includes(c))
        fail('E21', `The CPU with ID ${c} is not available in the NE CPU pool`, [
          'cpu-ids',
          String(c),
        ]);
  } else if (a.cpuCount! > poolCpus.length) {
    fail(
      'E22',
      `Insufficient CPUs available (requested ${a.cpuCount}, but maximum is ${poolCpus.length})`,
      ['cpu-count', String(a.cpuCount)],
    );
  }
  const minMiB = Math.ceil(Math.ceil(eifSize / 1024) / 1024) * MEMORY_EIF_RATIO;
  if (MEMORY_EIF_RATIO * eifSize > a.memoryMiB * 1024 * 1024)
    fail(
      'E26',
      `At least ${minMiB} MB must be allocated (which is ${MEMORY_EIF_RATIO} times the EIF file size)`,
      ['memory', String(a.memoryMiB), String(minMiB)],
    );
  const { describeEifFile } = await eifCode();
  let description: EifDescription | undefined;
  try {
    description = await describeEifFile(a.eifPath, { checks: 'report' });
  } catch {
    description = undefined;
  }
  const image = description ? await bootImage(a.eifPath, description) : 'the EIF cannot be parsed';
  const port = await freePort();

  // Everything from here to the record on disk happens under the host lock, so that concurrent
  // run-enclave calls see each other's CIDs, CPUs and memory.
  return withLock(state, () => {
    const live = liveRecords(state);
    const name = enclaveName(
      a,
      live.filter((r) => r.user === user).map((r) => r.name),
    );
    process.stderr.write('Start allocating memory...\n');
    const hp = cfg.hugepageMiB;
    const allocated = Math.ceil(a.memoryMiB / hp) * hp;
    const free = cfg.memoryMiB - live.reduce((n, r) => n + r.memoryMiB, 0);
    if (allocated > free)
      fail('E27', `Failed to allocate entire memory (${allocated - free} MB remained)`, [
        'memory',
        String(a.memoryMiB),
      ]);
    const busy = new Set(live.flatMap((r) => r.cpuIds));
    const cpus =
      a.cpuIds !== undefined
        ? a.cpuIds.some((c) => busy.has(c))
          ? undefined
          : [...new Set(a.cpuIds)]
        : pickCpus(cfg, busy, a.cpuCount!);
    if (cpus === undefined || cpus.length === 0)
      fail(
        'E29',
        'Add vCPU ioctl failed: The enclave cannot be created because no CPUs are available in the pool',
      );
    // NE_START_ENCLAVE refuses cores given in part (NE_ERR_FULL_CORES_NOT_USED).
    for (const core of cfg.cores) {
      const mine = core.filter((c) => cpus.includes(c)).length;
      if (mine > 0 && mine < core.length)
        fail(
          'E29',
          'Start enclave ioctl failed: The enclave cannot start because full CPU cores have not been set',
        );
    }
    const cidsInUse = new Set(live.map((r) => r.cid));
    // The device refuses a CID another enclave holds, whoever owns it; nitro-cli reports the
    // failed start ioctl as E29 (`do_ioctl` maps driver errors it does not name to IoctlFailure).
    if (a.cid !== undefined && cidsInUse.has(a.cid))
      fail(
        'E29',
        `Start enclave ioctl failed: An error has occurred: CID ${a.cid} in use (rc: -1)`,
      );
    let cid = a.cid ?? FIRST_AUTO_CID;
    while (cidsInUse.has(cid)) cid++;
    process.stderr.write(
      `Started enclave with enclave-cid: ${cid}, memory: ${allocated} MiB, cpu-ids: [${cpus.join(', ')}]\n`,
    );
    if (description === undefined || typeof image === 'string')
      fail(
        'E36',
        `Waiting on enclave to boot failed with error VsockTimeoutError (${typeof image === 'string' ? image : ''})`,
      );
    const slot = randomBytes(8).toString('hex').replace(/^0+/, '');
    const m = description.measurements;
    const rec: EnclaveRecord = {
      name,
      id: `${cfg.instanceId}-enc${slot}`,
      slot,
      user,
      pid: 0,
      cid,
      cpuIds: cpus,
      memoryMiB: allocated,
      debug: a.debug,
      state: 'RUNNING',
      eifPath: a.eifPath,
      measurements: { HashAlgorithm: 'Sha384 { ... }', PCR0: m.pcr0, PCR1: m.pcr1, PCR2: m.pcr2 },
      imageName: description.metadata.ImageName,
      imageVersion: description.metadata.ImageVersion,
      metadata: { ...description.metadata.BuildMetadata },
      ports: { [String(WORKER_VSOCK_PORT)]: port },
    };
    rec.pid = bootWorker(state, cfg, rec, image);
    writeRecord(state, rec);
    return JSON.stringify(
      {
        EnclaveName: rec.name,
        EnclaveID: rec.id,
        ProcessID: rec.pid,
        EnclaveCID: rec.cid,
        NumberOfCPUs: rec.cpuIds.length,
        CPUIDs: rec.cpuIds,
        MemoryMiB: rec.memoryMiB,
      },
      null,
      2,
    );
  });
}

/**
 * Starts the enclave's worker, detached in its own process group, its output going to the
 * enclave's console file; returns its pid. Like an enclave's init, it does not wait for the
 * application: run-enclave returns once the enclave has booted, and the worker listens later.
 */
function bootWorker(
  state: string,
  cfg: StandinConfig,
  rec: EnclaveRecord,
  image: BootImage,
): number {
  const dir = join(state, 'enclaves', rec.slot);
  mkdirSync(join(dir, 'build'), { recursive: true });
  // Debug mode: the attestation document carries zero PCR0-2 (nitro-brief §4.3).
  const pcr = (v: string): string => (rec.debug ? ZERO_PCR : v);
  writeFileSync(
    join(dir, 'image.json'),
    JSON.stringify({
      ...image,
      simulated: {
        pcr0: pcr(rec.measurements.PCR0),
        pcr1: pcr(rec.measurements.PCR1),
        pcr2: pcr(rec.measurements.PCR2),
      },
    }),
  );
  const out = openSync(consoleFile(state, rec.slot), 'a');
  const child = spawn(
    cfg.node,
    [
      cfg.workerEntry,
      '--listen',
      `127.0.0.1:${rec.ports[String(WORKER_VSOCK_PORT)]}`,
      '--nsm',
      'simulated',
      '--simulated-role',
      cfg.simulatedRole,
      '--simulated-instance-id',
      cfg.instanceId,
      '--image',
      join(dir, 'image.json'),
      '--workspace',
      join(dir, 'build'),
      '--enclave-id',
      rec.id,
      ...(cfg.jail !== undefined ? ['--jail', cfg.jail] : []),
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  child.unref();
  if (child.pid === undefined) fail('E36', 'Waiting on enclave to boot failed: no init process');
  return child.pid;
}

function describeOne(r: EnclaveRecord, metadata: boolean): Record<string, unknown> {
  return {
    EnclaveName: r.name,
    EnclaveID: r.id,
    ProcessID: r.pid,
    EnclaveCID: r.cid,
    NumberOfCPUs: r.cpuIds.length,
    CPUIDs: r.cpuIds,
    MemoryMiB: r.memoryMiB,
    State: r.state,
    Flags: r.debug ? 'DEBUG_MODE' : 'NONE',
    Measurements: r.measurements,
    ...(metadata
      ? { ImageName: r.imageName, ImageVersion: r.imageVersion, Metadata: r.metadata }
      : {}),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Terminates one enclave: kills its worker's process group and drops its record. */
async function terminate(state: string, rec: EnclaveRecord): Promise<Record<string, unknown>> {
  withLock(state, () => writeRecord(state, { ...rec, state: 'TERMINATING' }));
  killEnclave(rec);
  for (let i = 0; i < 500 && isAlive(rec); i++) await sleep(10);
  withLock(state, () => removeRecord(state, rec));
  process.stderr.write(`Successfully terminated enclave ${rec.id}.\n`);
  return { EnclaveName: rec.name, EnclaveID: rec.id, Terminated: true };
}

async function terminateCommand(state: string, args: string[], user: string): Promise<string> {
  const p = parseArgs(args, { options: ['enclave-id', 'enclave-name'], flags: ['all'] });
  conflict(p, 'enclave-id', 'enclave-name');
  conflict(p, 'enclave-id', 'all');
  conflict(p, 'enclave-name', 'all');
  if (!p.flags.has('all') && !p.values.has('enclave-name')) requireArgs(p, ['enclave-id']);
  const mine = withLock(state, () => liveRecords(state)).filter((r) => r.user === user);
  if (p.flags.has('all')) {
    const out: Record<string, unknown>[] = [];
    for (const r of mine) out.push(await terminate(state, r));
    return JSON.stringify(out, null, 2);
  }
  let id = one(p, 'enclave-id');
  const name = one(p, 'enclave-name');
  if (name !== undefined) {
    const matches = mine.filter((r) => r.name === name);
    if (matches.length !== 1)
      fail(
        'E58',
        matches.length === 0
          ? 'No enclave matched the given name.'
          : 'Conflicting enclave names have been found.',
      );
    id = matches[0]!.id;
  }
  // nitro-cli connects to the enclave process's socket, named after the id's slot part.
  const slot = id!.split('-enc').pop();
  const rec = mine.find((r) => r.slot === slot);
  if (rec === undefined)
    fail(
      'E11',
      'Failed to connect to specific enclave process: No such file or directory (os error 2)',
    );
  return JSON.stringify(await terminate(state, rec), null, 2);
}

async function describeEifCommand(args: string[]): Promise<string> {
  const p = parseArgs(args, { options: ['eif-path'] });
  requireArgs(p, ['eif-path']);
  const { describeEifFile, formatDescribeEifJson } = await eifCode();
  try {
    return formatDescribeEifJson(await describeEifFile(one(p, 'eif-path')!, { checks: 'report' }));
  } catch (e) {
    return fail('E35', `Failed to initialize EIF reader: ${(e as Error).message}`);
  }
}

const ACTIONS: Record<string, string> = {
  'run-enclave': 'Run Enclave',
  'describe-enclaves': 'Describe Enclave',
  'terminate-enclave': 'Terminate Enclave',
  'describe-eif': 'Describe EIF',
};

async function main(argv: string[]): Promise<number> {
  const state = process.env[STATE_ENV];
  if (state === undefined || state === '') {
    process.stderr.write(`nitro-cli stand-in: ${STATE_ENV} is not set\n`);
    return 1;
  }
  const user = standinUser();
  logCall(state, argv, user);
  const [command, ...args] = argv;
  if (command === '--version' || command === '-V') {
    process.stdout.write('Nitro CLI 1.5.0\n');
    return 0;
  }
  let inEnclaveProcess = false;
  try {
    let out: string;
    switch (command) {
      case 'run-enclave': {
        const a = runArgs(args);
        inEnclaveProcess = true;
        out = await runEnclave(state, a, user);
        break;
      }
      case 'describe-enclaves': {
        const p = parseArgs(args, { options: [], flags: ['metadata'] });
        const mine = withLock(state, () => liveRecords(state)).filter((r) => r.user === user);
        out = JSON.stringify(
          mine.map((r) => describeOne(r, p.flags.has('metadata'))),
          null,
          2,
        );
        break;
      }
      case 'terminate-enclave':
        out = await terminateCommand(state, args, user);
        break;
      case 'describe-eif':
        out = await describeEifCommand(args);
        break;
      default:
        throw new UsageError(
          command === undefined
            ? 'a subcommand is required'
            : `Found argument '${command}' which wasn't expected, or isn't valid in this context`,
        );
    }
    process.stdout.write(`${out}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(
        `error: ${e.message}\n\nUSAGE:\n    nitro-cli ${command ?? '<SUBCOMMAND>'} [FLAGS] [OPTIONS]\n\nFor more information try --help\n`,
      );
      return 1;
    }
    if (!(e instanceof StandinError)) throw e;
    const action = ACTIONS[command ?? ''] ?? 'Unknown';
    process.stderr.write(`${errorMessage(state, action, e.failure)}\n`);
    if (!inEnclaveProcess) return NITRO_EXIT[e.failure.code];
    // The enclave process failed: the CLI then reports that it got no reply from it.
    const e39: StandinFailure = { code: 'E39', cause: 'Failed to connect to 1 enclave processes' };
    process.stderr.write(`Failed connections: 1\n${errorMessage(state, action, e39)}\n`);
    return NITRO_EXIT.E39;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `nitro-cli stand-in: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(70);
  },
);
