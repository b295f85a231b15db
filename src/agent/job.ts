/**
 * A job: one submitted build, its state machine and the record kept on disk (`job.json`), and the
 * view clients get from `GET /build/{id}`.
 */

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves. */
export function isFinished(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}

/** Where the job's source comes from. */
export type JobSource =
  | {
      kind: 'archive';
      format: 'zip' | 'tar.gz';
      /** The client's file name (`source_name` or the part's file name), informational only. */
      name: string | null;
      bytes: number;
    }
  | { kind: 'git'; repoUrl: string; ref: string | null };

/** Why a job failed or was cancelled. `type` is stable (API); `code` is the underlying error code. */
export interface JobError {
  type: string;
  message: string;
  code?: string;
}

/** A produced output, as the bundle's provenance names it. */
export interface JobSubject {
  name: string;
  sha256: string;
}

/** The stored result of a succeeded job. */
export interface JobResult {
  /** SHA-256 (hex) of the bundle file: its ETag. */
  sha256: string;
  bytes: number;
  subjects: JobSubject[];
  source: { commit: string | null; tree: string } | null;
}

/**
 * The record of a job as written to `job.json`. Fields added after version 1 was first written
 * (`workdir`, `repository`) may be absent from older records; the store reads them as `.` and
 * null.
 */
export interface JobRecord {
  version: 1;
  id: string;
  state: JobState;
  /** Milliseconds since the epoch. */
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Hex; the client's, or made by the agent when the request had none. */
  nonce: string;
  source: JobSource;
  /** build.json override from the request, already validated. */
  config: Record<string, unknown> | null;
  /** A dependency set prepared by the client (size in bytes), or null: the agent fetches them. */
  dependencies: { bytes: number } | null;
  /** Directory of build.json inside the source, where the build runs (`.`: the source root). */
  workdir: string;
  /** Repository to record for an uploaded source (`repository`), or null. */
  repository: string | null;
  /** The workflow's OIDC token (`oidc_token`), or null; absent from older records. */
  oidcToken?: string | null;
  error: JobError | null;
  result: JobResult | null;
}

/** What `GET /build/{id}` returns. */
export interface JobView {
  job_id: string;
  state: JobState;
  phase: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  timings: { queued_ms: number; build_ms: number | null };
  error?: { type: string; message: string; code?: string };
  nonce: string;
  source: Record<string, unknown>;
  subjects?: JobSubject[];
  result?: { sha256: string; bytes: number };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** The client's view of a job at `now`; `phase` is the live phase kept in memory. */
export function jobView(r: JobRecord, phase: string, now: number): JobView {
  const startOrNow = r.startedAt ?? r.finishedAt ?? now;
  const view: JobView = {
    job_id: r.id,
    state: r.state,
    phase,
    created_at: new Date(r.createdAt).toISOString(),
    started_at: iso(r.startedAt),
    finished_at: iso(r.finishedAt),
    timings: {
      queued_ms: Math.max(0, startOrNow - r.createdAt),
      build_ms: r.startedAt === null ? null : Math.max(0, (r.finishedAt ?? now) - r.startedAt),
    },
    nonce: r.nonce,
    source:
      r.source.kind === 'git'
        ? { repo_url: r.source.repoUrl, repo_ref: r.source.ref, workdir: r.workdir }
        : {
            archive: r.source.format,
            source_name: r.source.name,
            bytes: r.source.bytes,
            workdir: r.workdir,
            repository: r.repository,
          },
  };
  if (r.error) view.error = { ...r.error };
  if (r.result) {
    view.subjects = r.result.subjects;
    view.result = { sha256: r.result.sha256, bytes: r.result.bytes };
    if (r.result.source) view.source = { ...view.source, ...sourceIdentity(r.result.source) };
  }
  return view;
}

function sourceIdentity(s: { commit: string | null; tree: string }): Record<string, unknown> {
  return { commit: s.commit, tree: s.tree };
}
