/**
 * The `local` backend: the worker runs as a child process in a sandbox (see ./sandbox.ts) with a
 * memory bound (./cgroup.ts) and a time bound, and attests with the software NSM (PCR0/1/2 = the
 * image's simulated measurements, PCR3 = the simulated IAM role, PCR4 = a simulated instance).
 *
 * The enclave itself, its worker process and its byte stream (a loopback socket handed to the
 * sandboxed worker) are in ./local-enclave.ts; the run records that let `cleanupOrphans` remove
 * what a killed process left are in ./local-records.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MemoryLimit } from './cgroup.js';
import { createMemoryLimit } from './cgroup.js';
import { bundledWorker } from './worker-bundle.js';
import type { ImageCatalog } from '../catalog/index.js';
import { findImage } from '../catalog/index.js';
import { EnclaveError } from './errors.js';
import { LocalEnclave } from './local-enclave.js';
import type { RunRecord } from './local-records.js';
import {
  ensurePrivateDir,
  killGroup,
  removeDiscarded,
  removeLeftovers,
  writeRunRecord,
} from './local-records.js';
export { REMOVING_PREFIX } from './local-records.js';
import type { SandboxLevel } from './sandbox.js';
import { probeSandbox } from './sandbox.js';
import type {
  Enclave,
  EnclaveBackend,
  EnclaveSpec,
  ImageRef,
  IsolationReport,
  OrphanKeep,
} from './types.js';

export { WORKER_RESERVE_MIB, WORKER_START_TIMEOUT_MS } from './local-enclave.js';
export type { LocalIpcMessage } from './local-enclave.js';

/**
 * The IAM role the local backend simulates by default: PCR3 is what a Nitro host with this
 * instance role would report. Override with `--simulated-role`.
 */
export const DEFAULT_SIMULATED_ROLE = 'arn:aws:iam::000000000000:role/tee-compile-local-builder';
/** The fixed workspace path: the same for every build, and the one the Nitro images use. */
export const WORKSPACE_PATH = '/tmp/tee-compile/build';
/** Smallest memory bound accepted: the worker (Node) itself needs about 100 MiB. */
export const MIN_LOCAL_MEMORY_MIB = 256;

/** What the worker reads from `--image`: the image's descriptor, and for simulation its PCRs. */
export interface LocalImage {
  name: string;
  version: string;
  language: ImageRef['language'];
  toolchain: Record<string, string>;
  simulated: { pcr0: string; pcr1: string; pcr2: string };
}

export interface LocalBackendOptions {
  /** IAM role ARN whose PCR3 the software NSM reports. */
  simulatedRole?: string;
  /** Run without namespaces when the OS refuses them (recorded). Default false: refuse. */
  allowUnisolated?: boolean;
  /**
   * The worker script (default: the package's compiled `worker/main.js`, bundled into one file
   * under `stateDir` when esbuild is installed; see ./worker-bundle.ts).
   */
  workerEntry?: string;
  /** Node binary for the worker (default: this one). */
  nodePath?: string;
  /** Where per-build directories, records and the worker bundle live (default `<tmpdir>/tee-compile-<uid>`, private). */
  stateDir?: string;
  /** The fixed path the workspace appears at inside the sandbox. */
  workspacePath?: string;
  /** The image catalog to find images in (default: the package's enclave/images.json). */
  catalog?: ImageCatalog;
  /** Finds the image's descriptor and simulated PCRs (default: from `catalog`). */
  resolveImage?: (ref: ImageRef) => Promise<LocalImage>;
  /** Environment of the worker (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Each line the worker writes to its stdout/stderr (diagnostics, not the build log). */
  onWorkerOutput?: (line: string) => void;
  /** The util-linux `unshare` binary (default: from PATH). */
  unshare?: string;
}

/** Resolves an image from `catalog` (default: the package's). */
async function catalogImage(ref: ImageRef, catalog?: ImageCatalog): Promise<LocalImage> {
  const { loadImageCatalog } = await import('../catalog/node.js');
  const entry = findImage(catalog ?? (await loadImageCatalog()), {
    language: ref.language,
    name: ref.name,
    version: ref.version,
  });
  return {
    name: entry.name,
    version: entry.version,
    language: entry.language,
    toolchain: entry.toolchain,
    simulated: entry.simulated,
  };
}

/** The compiled worker next to this module (lib/worker/main.js). */
export function defaultWorkerEntry(): string {
  return fileURLToPath(new URL('../worker/main.js', import.meta.url));
}

function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
}

/** The `local` backend (see the module comment). */
export class LocalBackend implements EnclaveBackend {
  readonly name = 'local' as const;
  private readonly stateDir: string;
  private readonly workspacePath: string;
  readonly simulatedRole: string;

  constructor(private readonly opts: LocalBackendOptions = {}) {
    // Per user: the state directory holds the worker script the backend runs, so no other user
    // may be able to write in it (a shared /tmp path could be planted).
    this.stateDir = opts.stateDir ?? join(tmpdir(), `tee-compile-${process.getuid?.() ?? 'user'}`);
    this.workspacePath = opts.workspacePath ?? WORKSPACE_PATH;
    this.simulatedRole = opts.simulatedRole ?? DEFAULT_SIMULATED_ROLE;
  }

  /** Starts a worker in a fresh sandbox; resolves when it listens. */
  async start(spec: EnclaveSpec): Promise<Enclave> {
    if (!(Number.isInteger(spec.memoryMiB) && spec.memoryMiB >= MIN_LOCAL_MEMORY_MIB))
      throw new EnclaveError(
        'ENCLAVE_SPEC_INVALID',
        `memory must be at least ${MIN_LOCAL_MEMORY_MIB} MiB for the local backend (got ${spec.memoryMiB})`,
        { path: 'memoryMiB' },
      );
    if (!(spec.timeoutMs > 0))
      throw new EnclaveError('ENCLAVE_SPEC_INVALID', 'timeoutMs must be positive', {
        path: 'timeoutMs',
      });
    if (spec.debug)
      throw new EnclaveError('ENCLAVE_SPEC_INVALID', 'the local backend has no debug mode', {
        path: 'debug',
      });
    const probe = await probeSandbox(this.opts.unshare);
    if (probe.level === 'none' && !this.opts.allowUnisolated)
      throw new EnclaveError(
        'ISOLATION_UNAVAILABLE',
        `this system refuses the namespaces the local backend isolates builds with (${probe.refusal ?? 'unknown reason'}); ` +
          'run as root, enable unprivileged user namespaces, or pass --allow-unisolated to build without isolation (recorded in the provenance)',
      );
    await ensurePrivateDir(this.stateDir);
    const image = await (
      this.opts.resolveImage ?? ((r: ImageRef) => catalogImage(r, this.opts.catalog))
    )(spec.image);
    const id = `local-${safeId(spec.buildId)}-${randomBytes(4).toString('hex')}`;
    const buildsDir = join(this.stateDir, 'builds');
    const workspace = join(buildsDir, id);
    const meta = join(this.stateDir, 'meta', id);
    const record: RunRecord = { id, workspace, meta };
    // Live before its record exists, so that no cleanup of this process takes it for a leftover;
    // the record before anything it names, so that whatever is made can be found again.
    LocalEnclave.live.add(id);
    let memory: MemoryLimit;
    try {
      await writeRunRecord(this.stateDir, record);
      // Isolated, the workspace is a tmpfs inside the sandbox (sandbox.ts), and `builds/` only
      // the folder every sandbox covers: no directory of this build is made on the host.
      await mkdir(probe.level === 'none' ? workspace : buildsDir, { recursive: true, mode: 0o700 });
      await mkdir(meta, { recursive: true, mode: 0o700 });
      memory = await createMemoryLimit(`tee-compile-${id}`, spec.memoryMiB * 1024 * 1024);
      if (memory.dir) await writeRunRecord(this.stateDir, { ...record, cgroup: memory.dir });
    } catch (e) {
      await removeLeftovers(this.stateDir, record);
      LocalEnclave.live.delete(id);
      throw e;
    }
    const isolated = probe.level !== 'none';
    const isolation = isolationReport(
      probe.level,
      probe.notes,
      memory,
      spec,
      isolated ? this.workspacePath : workspace,
      !!this.opts.allowUnisolated,
    );
    const enclave = new LocalEnclave(id, spec, isolation, memory, [workspace, meta], this.stateDir);
    try {
      if (isolated) await mkdir(this.workspacePath, { recursive: true, mode: 0o755 });
      const imageFile = join(meta, 'image.json');
      await writeFile(imageFile, JSON.stringify(image));
      await enclave.launch({
        level: probe.level,
        node: this.opts.nodePath ?? process.execPath,
        entry: this.opts.workerEntry ?? (await bundledWorker(defaultWorkerEntry(), this.stateDir)),
        args: [
          '--listen',
          'ipc',
          '--nsm',
          'simulated',
          '--image',
          imageFile,
          '--workspace',
          isolated ? this.workspacePath : workspace,
          '--simulated-role',
          this.simulatedRole,
          '--simulated-instance-id',
          `i-${randomBytes(9).toString('hex').slice(0, 17)}`,
        ],
        workspace,
        workspaceTarget: this.workspacePath,
        hideDir: buildsDir,
        ...(this.opts.unshare !== undefined ? { unshare: this.opts.unshare } : {}),
        env: this.opts.env ?? process.env,
        ...(this.opts.onWorkerOutput ? { onOutput: this.opts.onWorkerOutput } : {}),
        ...(spec.onLaunched ? { onLaunched: spec.onLaunched } : {}),
      });
    } catch (e) {
      await enclave.stop();
      throw e;
    }
    return enclave;
  }

  /**
   * Kills sandboxes left by a crashed process and removes their directories: those of every run
   * record of the state directory that neither this process runs nor `keep` keeps (ids, or a
   * test on the id, given as both `name` and `id`). Returns the ids removed.
   */
  async cleanupOrphans(keep: OrphanKeep = new Set()): Promise<string[]> {
    const runDir = join(this.stateDir, 'run');
    const names = await readdir(runDir).catch(() => [] as string[]);
    const removed: string[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      let rec: RunRecord;
      try {
        rec = JSON.parse(await readFile(join(runDir, n), 'utf8')) as RunRecord;
      } catch {
        continue;
      }
      if (typeof rec.id !== 'string' || `${rec.id}.json` !== n) continue;
      if (LocalEnclave.live.has(rec.id)) continue;
      if (typeof keep === 'function' ? await keep({ name: rec.id, id: rec.id }) : keep.has(rec.id))
        continue;
      if (rec.pid !== undefined) {
        const cmdline = await readFile(`/proc/${rec.pid}/cmdline`, 'utf8').catch(() => '');
        // Only a process that still is this sandbox (pids are reused) is killed.
        if (cmdline.includes(rec.id)) killGroup(rec.pid);
      }
      await removeLeftovers(this.stateDir, rec);
      removed.push(rec.id);
    }
    await removeDiscarded(join(this.stateDir, 'builds'));
    return removed;
  }
}

function isolationReport(
  level: SandboxLevel,
  probeNotes: string[],
  memory: MemoryLimit,
  spec: EnclaveSpec,
  workspace: string,
  allowUnisolated: boolean,
): IsolationReport {
  const notes = [...probeNotes, ...memory.notes];
  if (level === 'userns')
    notes.push('user namespace (root mapped to the caller), pid namespace with its own /proc');
  if (level === 'rootns') notes.push('pid namespace with its own /proc');
  if (level === 'none')
    notes.push(
      'no namespaces: the build had the host network and file system (allowed with --allow-unisolated)',
    );
  notes.push(
    `memory limit ${spec.memoryMiB} MiB`,
    `time limit ${Math.round(spec.timeoutMs / 1000)} s`,
    level === 'none' ? `workspace ${workspace}` : `workspace ${workspace} (tmpfs, in memory)`,
  );
  notes.push(`cpus not bounded (requested ${spec.cpus})`);
  if (allowUnisolated && level !== 'none')
    notes.push('--allow-unisolated was given but not needed');
  return {
    backend: 'local',
    network: level === 'none' ? 'none' : 'netns',
    filesystem: level === 'none' ? 'none' : 'mountns',
    memory: memory.kind,
    notes,
  };
}
