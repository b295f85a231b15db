/**
 * What the worker prepares before a client arrives: its image descriptor, the NSM (the device
 * through its helper, or the software NSM with the image's simulated PCRs), the PCRs as the NSM
 * reports them, its isolation, and an empty workspace.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { getPriority, setPriority } from 'node:os';
import type { NsmTransport } from '../attestation/index.js';
import { NsmClient, SoftwareNsm, pcr3ForIamRole, pcr4ForInstanceId } from '../attestation/index.js';
import type { IsolationReport } from '../contracts/index.js';
import type { BuildHandler } from '../protocol/index.js';
import { fromHex, toHex } from '../util/hex.js';
import type { EnclaveFacts, WorkerImage } from './build.js';
import { createBuildHandler } from './build.js';
import { enclaveIsolation, observeIsolation } from './isolation.js';
import { HelperNsmTransport } from './nsm-device.js';
import type { JailOptions } from './jail.js';
import { jailNotes, lockNsmDevice, probeJail } from './jail.js';
import type { ImageDescriptor } from './image.js';
import { WORKER_VERSION } from './version.js';

/** The worker's options (from its command line). */
export interface WorkerOptions {
  listen: { kind: 'ipc' } | { kind: 'tcp'; host: string; port: number };
  nsm: { kind: 'device'; helper: string } | { kind: 'simulated' };
  imageFile: string;
  workspace: string;
  /** Simulated mode: the IAM role whose PCR3 to report. */
  simulatedRole?: string;
  /** Simulated mode: the EC2 instance id whose PCR4 to report. */
  simulatedInstanceId?: string;
  enclaveId?: string;
  /** Runs the build command through tee-jail as another user (required with the device NSM). */
  jail?: JailOptions;
  /** The NSM device, made 0600 root before any build (device mode). */
  nsmDevice?: string;
}

/** A worker ready for its client. */
export interface ReadyWorker {
  image: WorkerImage;
  handler: BuildHandler;
  /** Settles once the NSM has been reached (rejects when it cannot be); see `WorkerContext.facts`. */
  facts: () => Promise<EnclaveFacts>;
}

/** Where the Nitro kernel's NSM driver puts the device. */
export const DEFAULT_NSM_DEVICE = '/dev/nsm';

/** Default simulated instance id (PCR4): fixed, so a simulated builder is recognisable. */
export const DEFAULT_SIMULATED_INSTANCE_ID = 'i-00000000000000000';

async function simulatedNsm(
  image: ImageDescriptor,
  o: WorkerOptions,
): Promise<{ transport: NsmTransport; role: string; instanceId: string }> {
  if (image.simulated === undefined)
    throw new Error('--nsm simulated needs simulated PCRs in the image descriptor');
  if (o.simulatedRole === undefined) throw new Error('--nsm simulated needs --simulated-role');
  const instanceId = o.simulatedInstanceId ?? DEFAULT_SIMULATED_INSTANCE_ID;
  if (!/^i-[0-9a-f]{8,17}$/.test(instanceId))
    throw new Error(`--simulated-instance-id: not an EC2 instance id: ${instanceId}`);
  const pcrs = new Map<number, Uint8Array>([
    [0, fromHex(image.simulated.pcr0)],
    [1, fromHex(image.simulated.pcr1)],
    [2, fromHex(image.simulated.pcr2)],
    [3, pcr3ForIamRole(o.simulatedRole)],
    [4, pcr4ForInstanceId(instanceId)],
  ]);
  const transport = await SoftwareNsm.create({
    pcrs,
    moduleId: `${instanceId}-enc${randomBytes(8).toString('hex')}`,
  });
  return { transport, role: o.simulatedRole, instanceId };
}

/** The worker's isolation as it observes it (and as the local backend says it set it up). */
async function isolationFacts(
  o: WorkerOptions,
  hostIsolation?: () => Promise<IsolationReport>,
): Promise<EnclaveFacts['isolation']> {
  const isolation =
    o.nsm.kind === 'device'
      ? enclaveIsolation()
      : await observeIsolation(o.workspace, hostIsolation ? await hostIsolation() : undefined);
  const notes = [...(isolation.notes ?? [])];
  if (o.jail) notes.push(...jailNotes(o.jail));
  if (o.nsm.kind === 'device')
    notes.push(`NSM device ${o.nsmDevice ?? DEFAULT_NSM_DEVICE}: root only (0600)`);
  return { ...isolation, notes };
}

/**
 * What the worker learns from the NSM and its surroundings (`isolation`, observed before any
 * build); needed only when it attests.
 */
async function enclaveFacts(
  o: WorkerOptions,
  image: ImageDescriptor,
  isolation: Promise<EnclaveFacts['isolation']>,
): Promise<EnclaveFacts> {
  let transport: NsmTransport;
  const nsmInfo: Record<string, unknown> = {};
  if (o.nsm.kind === 'device') {
    transport = new HelperNsmTransport(o.nsm.helper);
  } else {
    const sim = await simulatedNsm(image, o);
    transport = sim.transport;
    nsmInfo.simulated = { iamRole: sim.role, instanceId: sim.instanceId };
  }
  const nsm = new NsmClient(transport);
  const described = await nsm.describeNsm();
  const locks: Record<string, boolean> = {};
  const pcr = async (i: number): Promise<string> => {
    const r = await nsm.describePcr(i);
    locks[String(i)] = r.lock;
    return toHex(r.data);
  };
  const pcrs = { pcr0: await pcr(0), pcr1: await pcr(1), pcr2: await pcr(2) };
  if (image.simulated && o.nsm.kind === 'simulated' && pcrs.pcr0 !== image.simulated.pcr0)
    throw new Error('the software NSM does not report the image PCR0 it was given');
  nsmInfo.moduleId = described.moduleId;
  nsmInfo.digest = described.digest;
  nsmInfo.version = `${described.versionMajor}.${described.versionMinor}.${described.versionPatch}`;
  nsmInfo.pcr3 = await pcr(3);
  nsmInfo.pcr4 = await pcr(4);
  // DescribeNSM and DescribePCR as the NSM answered them (PCRs 0-4 are locked by the hypervisor).
  nsmInfo.maxPcrs = described.maxPcrs;
  nsmInfo.lockedPcrs = described.lockedPcrs;
  nsmInfo.pcrLocks = locks;
  if (o.enclaveId !== undefined) nsmInfo.enclaveId = o.enclaveId;
  return { nsm, pcrs, nsmInfo, isolation: await isolation };
}

/** The niceness the worker takes once the build command runs. */
export const WORKER_NICENESS_WHILE_BUILDING = 10;

/**
 * Lowers the worker's CPU priority below the build command's (which started at the worker's):
 * what the worker does while the command runs (identifying the toolchain, hashing its binaries;
 * issuing the software NSM's chain) then takes only what the build leaves. It is not raised again
 * (an unprivileged process cannot), and need not be: once the command has ended, nothing of the
 * build competes with the worker.
 */
function yieldToCommand(): void {
  try {
    if (getPriority() < WORKER_NICENESS_WHILE_BUILDING) setPriority(WORKER_NICENESS_WHILE_BUILDING);
  } catch {
    // A system that refuses it: the worker's side work then shares the CPU with the build.
  }
}

/**
 * Prepares the worker: checks the workspace and returns the build handler at once; the NSM, its
 * PCRs and the isolation are found in the background (`facts`) and awaited only to attest.
 * `hostIsolation` (local backend) resolves with what the backend says it set up; the worker
 * records what it observes itself.
 */
export async function startWorker(
  o: WorkerOptions,
  image: ImageDescriptor,
  hostIsolation?: () => Promise<IsolationReport>,
): Promise<ReadyWorker> {
  await mkdir(o.workspace, { recursive: true });
  const existing = await readdir(o.workspace);
  // An empty `deps/` is the local sandbox's memory-backed mount (src/enclave/sandbox.ts).
  const fresh =
    existing.every((n) => n === 'deps') &&
    (existing.length === 0 ||
      // A `deps` that is not an empty folder (a file, say) is not a fresh workspace.
      (await readdir(join(o.workspace, 'deps')).catch(() => ['?'])).length === 0);
  if (!fresh)
    throw new Error(
      `the workspace ${o.workspace} is not empty: a worker builds once, in a fresh workspace`,
    );
  if (
    o.nsm.kind === 'simulated' &&
    (image.simulated === undefined || o.simulatedRole === undefined)
  )
    throw new Error(
      '--nsm simulated needs --simulated-role and simulated PCRs in the image descriptor',
    );
  if (o.nsm.kind === 'device' && o.jail === undefined)
    throw new Error(
      '--nsm device needs --jail: a build command running as the worker could ask the NSM for documents of its own',
    );
  if (o.jail) await probeJail(o.jail);
  if (o.nsm.kind === 'device') await lockNsmDevice(o.nsmDevice ?? DEFAULT_NSM_DEVICE);
  // The isolation is observed at once, before any build command could change what is seen.
  const isolation = isolationFacts(o, hostIsolation);
  isolation.catch(() => undefined);
  let found: Promise<EnclaveFacts> | undefined;
  const facts = (): Promise<EnclaveFacts> => {
    if (found === undefined) {
      found = enclaveFacts(o, image, isolation);
      // Settled here: a failure is reported where the facts are awaited, never as unhandled.
      found.catch(() => undefined);
    }
    return found;
  };
  // The device is reached at once (an enclave without one fails at start). The software NSM
  // waits for the build command: making it (loading X.509, importing the simulation root's
  // key) took a tenth of a second of the worker's thread while the source arrived.
  if (o.nsm.kind === 'device') void facts();
  const worker: WorkerImage = {
    name: image.name,
    version: image.version,
    language: image.language,
    toolchain: image.toolchain,
  };
  const handler = createBuildHandler({
    image: worker,
    facts,
    whileBuilding: () => {
      yieldToCommand();
      // The software NSM is made, and issues its certificate chain on the first attestation:
      // both while the build runs rather than after it. The document is thrown away.
      if (o.nsm.kind === 'simulated')
        void facts()
          .then((f) => f.nsm.attest({}))
          .catch(() => undefined);
    },
    backend: o.nsm.kind === 'device' ? 'nitro' : 'local',
    workspace: o.workspace,
    builderVersion: { 'tee-compile-worker': WORKER_VERSION, node: process.version },
    env: process.env,
    ...(o.jail ? { jail: o.jail } : {}),
  });
  return { image: worker, handler, facts };
}
