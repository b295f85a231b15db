/**
 * Admission of new jobs: a slot is taken before a submission's body is read, so the queue limit,
 * the single-build rule and the data directory's budget hold while uploads are under way.
 */
import type { AgentSettings } from './config.js';
import type { DiskBudget } from './disk.js';
import { AgentError } from './errors.js';
import { newJobId } from './ids.js';
import type { JobQueue } from './queue.js';
import type { JobPaths, JobStore } from './store.js';

/** A slot taken for a submission while its body is read. */
export interface Admission {
  id: string;
  paths: JobPaths;
  /** The job was recorded: the slot becomes the job. */
  accepted(): void;
  /** Gives the slot back (the submission failed); removes the job directory. */
  release(): Promise<void>;
}

/** What admission needs of the agent. */
export interface AdmissionParts {
  settings: AgentSettings;
  queue: JobQueue;
  disk: DiskBudget;
  store: JobStore;
  /** Frees bytes for a new job (see `Pruner.makeRoom`). */
  makeRoom: (bytes: number) => Promise<number>;
}

/** Counts the slots taken and, in single-build mode, whether the one build was taken. */
export class AdmissionGate {
  private admitting = 0;
  /** In single-build mode: the one build was accepted (or is being uploaded). */
  singleBuildTaken = false;

  constructor(private readonly p: AdmissionParts) {}

  /**
   * Takes a slot for a new job: refuses in single-build mode after the one build (409), when the
   * queue is full (503) or the data directory over its budget (507).
   */
  async admit(): Promise<Admission> {
    const { settings, queue, disk, store } = this.p;
    if (settings.singleBuild && this.singleBuildTaken)
      throw new AgentError(
        'AGENT_SINGLE_BUILD_USED',
        'this agent runs a single build and already accepted it',
      );
    if (queue.length + this.admitting >= settings.limits.maxQueuedJobs)
      throw new AgentError('AGENT_UNAVAILABLE', 'the queue is full; try again later');
    if (settings.singleBuild) this.singleBuildTaken = true;
    this.admitting++;
    let settled = false;
    const settle = (accepted: boolean): boolean => {
      if (settled) return false;
      settled = true;
      this.admitting--;
      if (!accepted && settings.singleBuild) this.singleBuildTaken = false;
      return true;
    };
    try {
      await disk.check(this.p.makeRoom);
      const id = newJobId();
      const paths = await store.create(id);
      return {
        id,
        paths,
        accepted: () => void settle(true),
        release: async () => {
          if (settle(false)) await store.remove(id);
        },
      };
    } catch (err) {
      settle(false);
      throw err;
    }
  }
}
