/**
 * What the worker prepares before a client arrives: its image descriptor, the NSM (the device
 * through its helper, or the software NSM with the image's simulated PCRs), the PCRs as the NSM
 * reports them, its isolation, and an empty workspace.
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { NsmTransport } from '../attestation/index.js';
import { NsmClient, SoftwareNsm, pcr3ForIamRole, pcr4ForInstanceId } from '../attestation/index.js';
import type { IsolationReport } from '../enclave/types.js';
import type { BuildHandler } from '../protocol/index.js';
import { fromHex, toHex } from '../util/hex.js';
import type { WorkerImage } from './build.js';
import { createBuildHandler } from './build.js';
import { enclaveIsolation, observeIsolation } from './isolation.js';
import { HelperNsmTransport } from './nsm-device.js';
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
}

/** A worker ready for its client. */
export interface ReadyWorker {
  image: WorkerImage;
  handler: BuildHandler;
}

const pcrHex = z.string().regex(/^[0-9a-f]{96}$/, 'expected 96 lower-case hex digits');
const imageSchema = z.object({
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  language: z.enum(['rust', 'node', 'go']),
  toolchain: z.record(z.string(), z.string()),
  simulated: z.object({ pcr0: pcrHex, pcr1: pcrHex, pcr2: pcrHex }).optional(),
});

/** Largest image.json read. */
const MAX_IMAGE_JSON_BYTES = 64 * 1024;

async function readImage(file: string): Promise<z.infer<typeof imageSchema>> {
  const text = await readFile(file, 'utf8');
  if (text.length > MAX_IMAGE_JSON_BYTES)
    throw new Error(`${file} is larger than ${MAX_IMAGE_JSON_BYTES} bytes`);
  const r = imageSchema.safeParse(JSON.parse(text));
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${file}: ${i ? `${i.path.join('.')}: ${i.message}` : 'invalid'}`);
  }
  return r.data;
}

/** Default simulated instance id (PCR4): fixed, so a simulated builder is recognisable. */
export const DEFAULT_SIMULATED_INSTANCE_ID = 'i-00000000000000000';

async function simulatedNsm(
  image: z.infer<typeof imageSchema>,
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

/**
 * Prepares the worker. `hostIsolation` (local backend) resolves with what the backend says it set
 * up; the worker records what it observes itself.
 */
export async function startWorker(
  o: WorkerOptions,
  hostIsolation?: () => Promise<IsolationReport>,
): Promise<ReadyWorker> {
  const image = await readImage(o.imageFile);
  await mkdir(o.workspace, { recursive: true });
  const existing = await readdir(o.workspace);
  if (existing.length > 0)
    throw new Error(
      `the workspace ${o.workspace} is not empty: a worker builds once, in a fresh workspace`,
    );
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
  if (o.nsm.kind === 'simulated') {
    // The software NSM issues its certificate chain on the first attestation: issue it now, while
    // the client connects, rather than after the build. The document is thrown away.
    void nsm.attest({}).catch(() => undefined);
  }
  const described = await nsm.describeNsm();
  const pcr = async (i: number): Promise<string> => toHex((await nsm.describePcr(i)).data);
  const pcrs = { pcr0: await pcr(0), pcr1: await pcr(1), pcr2: await pcr(2) };
  if (image.simulated && o.nsm.kind === 'simulated' && pcrs.pcr0 !== image.simulated.pcr0)
    throw new Error('the software NSM does not report the image PCR0 it was given');
  nsmInfo.moduleId = described.moduleId;
  nsmInfo.digest = described.digest;
  nsmInfo.version = `${described.versionMajor}.${described.versionMinor}.${described.versionPatch}`;
  nsmInfo.pcr3 = await pcr(3);
  nsmInfo.pcr4 = await pcr(4);
  if (o.enclaveId !== undefined) nsmInfo.enclaveId = o.enclaveId;
  const isolation =
    o.nsm.kind === 'device'
      ? enclaveIsolation()
      : await observeIsolation(o.workspace, hostIsolation ? await hostIsolation() : undefined);
  const worker: WorkerImage = {
    name: image.name,
    version: image.version,
    language: image.language,
    toolchain: image.toolchain,
  };
  const handler = createBuildHandler({
    image: worker,
    pcrs,
    nsm,
    nsmInfo,
    backend: o.nsm.kind === 'device' ? 'nitro' : 'local',
    isolation: { ...isolation },
    workspace: o.workspace,
    builderVersion: { 'tee-compile-worker': WORKER_VERSION, node: process.version },
    env: process.env,
  });
  return { image: worker, handler };
}
