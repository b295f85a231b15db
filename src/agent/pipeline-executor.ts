/**
 * The real executor: runs a job's build through the client pipeline (`runBuild`, the library
 * behind `tee-compile build`) in an enclave of the job's budgeted backend, and turns its typed
 * events into the agent's `phase` and `log` events.
 *
 * A source with `.git` is built from its committed tree (commit bound); one without is built
 * from its files (only the tree is bound, the commit is null). Either way the build runs in the
 * job's workdir, which the provenance records (git tells it for a repository; for plain files it
 * is computed from the source root). A dependency set sent by the client is passed on as is (the
 * worker checks it against the lockfile); otherwise the pipeline fetches the locked dependencies
 * here.
 *
 * A host with a sealed builder key (`builderKey` in the agent's settings) has every build signed:
 * after the build command, the worker asks with its attestation document, this process calls KMS
 * `Decrypt` with it as `Recipient` and hands CiphertextForRecipient back (`runBuild`'s
 * `builderKey`). A KMS refusal fails the job with its code (`KMS_ACCESS_DENIED`, …). The job's
 * log says which key signed, or `no builder signature`.
 */
import { lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildEvent } from '../client/index.js';
import { runBuild } from '../client/index.js';
import type { ImageCatalog } from '../catalog/index.js';
import type {
  BuildContext,
  BuildExecutor,
  BuildJob,
  BuildOutcome,
  BuildProgress,
} from './executor.js';

export interface PipelineExecutorOptions {
  catalog: ImageCatalog;
  /** Where dependency sets fetched by the agent are cached between builds. */
  cacheDir: string;
  /** Environment of git and the package tools (proxies, registry settings). */
  env?: NodeJS.ProcessEnv;
  /** The host's sealed builder key (src/kms `openHostBuilderKey`); absent: builds are unsigned. */
  builderKey?: {
    fingerprint: string;
    unseal: (attestation: Uint8Array) => Promise<Uint8Array>;
  };
}

/** The job log's line about the builder signature (the words of `tee-compile build`). */
export function signatureLine(builderKey: string | null): string {
  return `signed  ${builderKey === null ? 'no builder signature' : `builder key ${builderKey} (provenance.dsse.json)`}`;
}

/** True when `dir` holds a `.git` directory (the agent refused gitdir links when preparing). */
async function hasGitDir(dir: string): Promise<boolean> {
  try {
    return (await lstat(join(dir, '.git'))).isDirectory();
  } catch {
    return false;
  }
}

/** Maps the pipeline's events to the agent's. */
export function progressOf(e: BuildEvent): BuildProgress[] {
  switch (e.type) {
    case 'prepared':
      return [
        {
          kind: 'phase',
          phase: 'inputs-prepared',
          detail: {
            commit: e.source.commit,
            tree: e.source.tree,
            dependencies: e.dependencies,
            input_bytes: e.inputBytes,
          },
        },
      ];
    case 'enclave':
      return [
        e.state === 'starting'
          ? { kind: 'phase', phase: 'starting-enclave' }
          : {
              kind: 'phase',
              phase: 'enclave-running',
              detail: { backend: e.isolation?.backend ?? null },
            },
      ];
    case 'phase':
      return [
        { kind: 'phase', phase: e.phase, ...(e.detail ? { detail: { detail: e.detail } } : {}) },
      ];
    case 'log':
      return e.lines.length === 0
        ? []
        : [{ kind: 'log', stream: 'build', text: e.lines.join('\n') }];
    default:
      return [];
  }
}

/** The executor over the client pipeline. */
export class PipelineExecutor implements BuildExecutor {
  constructor(private readonly o: PipelineExecutorOptions) {}

  async run(job: BuildJob, ctx: BuildContext): Promise<BuildOutcome> {
    let configFile: string | undefined;
    if (job.config !== null) {
      // Written where the client cannot choose a path; the pipeline reads and checks it again, as
      // the build.json of the workdir.
      configFile = join(job.workDir, 'build.override.json');
      await writeFile(configFile, JSON.stringify(job.config, null, 2) + '\n', { mode: 0o640 });
    }
    const onEvent = (e: BuildEvent): void => {
      for (const p of progressOf(e)) ctx.onProgress(p);
    };
    const nonce = new Uint8Array(Buffer.from(job.nonce, 'hex'));
    const env = this.o.env ?? process.env;
    const git = await hasGitDir(job.sourceDir);
    const r = await runBuild({
      dir: join(job.sourceDir, job.workdir),
      sourceRoot: job.sourceDir,
      out: job.bundleFile,
      backend: ctx.backend,
      catalog: this.o.catalog,
      ...(configFile !== undefined ? { configFile } : {}),
      nonce,
      // The committed tree is what is built; files the archive adds beside it do not count.
      allowDirty: true,
      sourceKind: git ? 'git' : 'files',
      ...(job.dependencySet !== null ? { dependencySet: job.dependencySet } : {}),
      ...(job.repository !== null ? { repository: job.repository } : {}),
      ...(job.oidcToken != null ? { oidcToken: job.oidcToken } : {}),
      ...(this.o.builderKey !== undefined ? { builderKey: this.o.builderKey } : {}),
      cacheDir: this.o.cacheDir,
      env,
      onEvent,
      signal: ctx.signal,
      buildId: job.jobId,
    });
    ctx.onProgress({ kind: 'log', stream: 'agent', text: signatureLine(r.builderKey) });
    return {
      bundleFile: r.bundle.path,
      bundle: { sha256: r.bundle.sha256, bytes: r.bundle.size },
      subjects: r.subjects,
      source: { commit: r.source.commit, tree: r.source.tree },
    };
  }
}
