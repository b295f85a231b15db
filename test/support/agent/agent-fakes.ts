/**
 * Stand-ins for the agent's API tests: a backend whose enclaves are plain objects (records what
 * starts and stops), and an executor scripted by the build.json `input.cmd` of the request, so a
 * test chooses a job's behaviour through the real HTTP API:
 *
 *   `ok`            starts an enclave, logs a line, writes a bundle
 *   `fail`          starts an enclave, fails with a typed error
 *   `hold`          starts an enclave and waits until the job is aborted or `release(jobId)`
 *   `logs:<n>`      logs n lines, then succeeds
 *
 * Its artifact lists the files of the job's workdir, where the build would run.
 * The real pipeline with the local backend is used by the end-to-end tests.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { writeTarFile } from '../../../src/archive/node.js';
import { TeeCompileError } from '../../../src/errors.js';
import type {
  BuildContext,
  BuildExecutor,
  BuildJob,
  BuildOutcome,
} from '../../../src/agent/executor.js';
import type {
  Enclave,
  EnclaveBackend,
  EnclaveExit,
  EnclaveSpec,
} from '../../../src/enclave/types.js';
import { writeProject, zipDir } from '../source/agent-sources.js';

/** A build.json that scripts the executor with `cmd` (see the file comment). */
export function scriptedConfig(
  cmd: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { language: 'node', input: { cmd }, output: { files: ['out.txt'] }, ...extra };
}

/**
 * A source (zip, base64, as `source_data` takes it) whose build.json is `scriptedConfig('ok')`;
 * made in `work`.
 */
export async function scriptedSource(work: string): Promise<string> {
  await writeProject(join(work, 'proj'), { 'build.json': JSON.stringify(scriptedConfig('ok')) });
  await zipDir(join(work, 'proj'), join(work, 's.zip'));
  return (await readFile(join(work, 's.zip'))).toString('base64');
}

/** A backend whose enclaves are records; `running` is what has started and not stopped. */
export class StandInBackend implements EnclaveBackend {
  readonly name = 'local' as const;
  readonly started: EnclaveSpec[] = [];
  readonly running = new Set<string>();
  maxRunning = 0;
  /** Enclaves "left over from a previous run" that cleanupOrphans terminates. */
  leftovers: string[] = [];
  readonly cleaned: string[] = [];

  start(spec: EnclaveSpec): Promise<Enclave> {
    const id = `standin-${spec.buildId}-${this.started.length}`;
    this.started.push(spec);
    this.running.add(id);
    this.maxRunning = Math.max(this.maxRunning, this.running.size);
    let end!: (e: EnclaveExit) => void;
    const exited = new Promise<EnclaveExit>((r) => (end = r));
    let state: Enclave['state'] = 'running';
    const enclave: Enclave = {
      id,
      spec,
      isolation: { backend: 'local', network: 'none', filesystem: 'none', memory: 'none' },
      get state() {
        return state;
      },
      connect: () =>
        Promise.resolve(
          new Duplex({
            read() {},
            write(_c, _e, cb) {
              cb();
            },
          }),
        ),
      exited,
      stop: () => {
        if (state === 'running') {
          state = 'stopped';
          this.running.delete(id);
          end({ state: 'stopped', reason: 'stopped', message: 'stopped' });
        }
        return Promise.resolve();
      },
    };
    return Promise.resolve(enclave);
  }

  cleanupOrphans(): Promise<string[]> {
    const gone = this.leftovers.splice(0);
    this.cleaned.push(...gone);
    return Promise.resolve(gone);
  }
}

class ScriptedBuildError extends TeeCompileError<'WORKER_BUILD_FAILED'> {}

/** The executor scripted by `input.cmd` (see the file comment). */
export class ScriptedExecutor implements BuildExecutor {
  readonly jobs: BuildJob[] = [];
  private readonly holds = new Map<string, () => void>();

  /** Lets a `hold` job finish. */
  release(jobId: string): void {
    this.holds.get(jobId)?.();
  }

  /** Ids of jobs holding now. */
  holding(): string[] {
    return [...this.holds.keys()];
  }

  async run(job: BuildJob, ctx: BuildContext): Promise<BuildOutcome> {
    this.jobs.push(job);
    const dir = join(job.sourceDir, job.workdir);
    const config =
      job.config ??
      (JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as Record<string, unknown>);
    const input = config.input as { cmd: string };
    const resources = (config.resources ?? {}) as { cpus?: number; memoryMiB?: number };
    ctx.onProgress({ kind: 'phase', phase: 'starting-enclave' });
    const enclave = await ctx.backend.start({
      buildId: job.jobId,
      image: { name: 'stand-in', version: '1', language: 'node' },
      cpus: resources.cpus ?? 2,
      memoryMiB: resources.memoryMiB ?? 512,
      timeoutMs: 60_000,
    });
    try {
      ctx.onProgress({ kind: 'phase', phase: 'building' });
      const [verb, arg] = input.cmd.split(':');
      if (verb === 'fail')
        throw new ScriptedBuildError('WORKER_BUILD_FAILED', 'the build command exited with 1');
      if (verb === 'hold') {
        await new Promise<void>((resolve, reject) => {
          this.holds.set(job.jobId, resolve);
          const onAbort = (): void => reject(new Error('aborted'));
          if (ctx.signal.aborted) onAbort();
          ctx.signal.addEventListener('abort', onAbort, { once: true });
        }).finally(() => this.holds.delete(job.jobId));
      }
      const lines = verb === 'logs' ? Number(arg) : 1;
      for (let i = 0; i < lines; i++)
        ctx.onProgress({ kind: 'log', stream: 'stdout', text: `line ${i}` });
      ctx.onProgress({ kind: 'phase', phase: 'attesting' });
      const files = (await readdir(dir)).sort();
      const artifact = `nonce=${job.nonce}\nfiles=${files.join(',')}\n`;
      await writeTarFile(
        [
          {
            path: 'artifacts/out.txt',
            type: 'file',
            size: Buffer.byteLength(artifact),
            content: Buffer.from(artifact),
          },
        ],
        job.bundleFile,
        { gzip: true },
      );
      return {
        bundleFile: job.bundleFile,
        subjects: [
          { name: 'out.txt', sha256: createHash('sha256').update(artifact).digest('hex') },
        ],
        source: { commit: null, tree: '0'.repeat(40) },
      };
    } finally {
      await enclave.stop();
    }
  }
}
