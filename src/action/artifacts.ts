/**
 * Workflow artifacts of the current run (the results service behind @actions/artifact): upload a
 * bundle, list the run's artifacts (every job's: that is how a consensus job sees a matrix of
 * builders), download one. The runtime token and the service URL come from the runner's
 * environment (`ACTIONS_RUNTIME_TOKEN`, `ACTIONS_RESULTS_URL`).
 */
import { DefaultArtifactClient } from '@actions/artifact';
import { ActionError } from './errors.js';

/** An artifact of the run. */
export interface WorkflowArtifact {
  id: number;
  name: string;
  size: number;
}

/** What the action asks of the artifact service. */
export interface ArtifactStore {
  /** Uploads `files` (under `root`) as artifact `name`, replacing an earlier one of that name. */
  upload(name: string, files: string[], root: string): Promise<WorkflowArtifact>;
  /** The run's artifacts, the newest of each name. */
  list(): Promise<WorkflowArtifact[]>;
  /** Downloads and unpacks artifact `id` into `dir`. */
  download(id: number, dir: string): Promise<void>;
}

function failed(what: string, e: unknown): ActionError {
  return new ActionError('ARTIFACT_FAILED', `${what}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });
}

/** The artifact service of the current run, through @actions/artifact. */
export function runArtifacts(): ArtifactStore {
  const client = new DefaultArtifactClient();
  return {
    async upload(name, files, root) {
      try {
        // A re-run of the job uploads again: the earlier artifact of this name gives way, as
        // upload-artifact's `overwrite` does (names are unique within a run).
        const { artifacts } = await client.listArtifacts({ latest: true });
        if (artifacts.some((a) => a.name === name)) await client.deleteArtifact(name);
        const r = await client.uploadArtifact(name, files, root);
        return { id: r.id ?? 0, name, size: r.size ?? 0 };
      } catch (e) {
        throw failed(`uploading the workflow artifact ${name}`, e);
      }
    },
    async list() {
      try {
        const { artifacts } = await client.listArtifacts({ latest: true });
        return artifacts.map((a) => ({ id: a.id, name: a.name, size: a.size }));
      } catch (e) {
        throw failed('listing the workflow artifacts', e);
      }
    },
    async download(id, dir) {
      try {
        await client.downloadArtifact(id, { path: dir });
      } catch (e) {
        throw failed(`downloading the workflow artifact ${id}`, e);
      }
    },
  };
}
