/**
 * The seam between the agent and the build pipeline: the agent prepares a job's source and hands
 * it to a `BuildExecutor`, which runs the build in an enclave of the given backend and writes the
 * bundle. The real one is a thin adapter over the client's `runBuild` (./pipeline-executor.ts).
 */
import type { EnclaveBackend } from '../enclave/index.js';
import type { JobSubject } from './job.js';

/** What one build needs. */
export interface BuildJob {
  jobId: string;
  /** Source root (with `.git` when the commit is bound). */
  sourceDir: string;
  /**
   * Directory of build.json relative to `sourceDir`, where the build runs (`.`: the root); it has
   * been checked to be a real directory of the source.
   */
  workdir: string;
  /** Repository URL to record (a `repo_url` job's, or the client's `repository`), or null. */
  repository: string | null;
  /** The workflow's OIDC token, passed to the worker, or null. */
  oidcToken?: string | null;
  /** build.json override (for the build.json of `workdir`), or null for the source's own. */
  config: Record<string, unknown> | null;
  /** A dependency set prepared by the client, or null: the executor fetches them on the host. */
  dependencySet: string | null;
  /** Hex nonce for the attestation. */
  nonce: string;
  /** Scratch directory of the job (removed after the build). */
  workDir: string;
  /** Where the bundle must be written. */
  bundleFile: string;
}

/** Progress of a build, turned into `phase` and `log` events. */
export type BuildProgress =
  | { kind: 'phase'; phase: string; detail?: Record<string, unknown> }
  | { kind: 'log'; stream: string; text: string };

/** What a finished build gives back. */
export interface BuildOutcome {
  /** The bundle (normally `job.bundleFile`). */
  bundleFile: string;
  subjects: JobSubject[];
  source: { commit: string | null; tree: string } | null;
  /**
   * The bundle's SHA-256 and size as hashed while it was received, when the executor knows them
   * (the agent then stores the file without reading it again).
   */
  bundle?: { sha256: string; bytes: number };
}

export interface BuildContext {
  /** Aborted when the job is cancelled or the agent stops; the enclave must then be stopped. */
  signal: AbortSignal;
  /** The backend to start enclaves with (it takes the job's share of the host's resources). */
  backend: EnclaveBackend;
  onProgress: (p: BuildProgress) => void;
}

/** Runs one build; throws a typed error when it fails. */
export interface BuildExecutor {
  run(job: BuildJob, ctx: BuildContext): Promise<BuildOutcome>;
}
