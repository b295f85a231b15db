/** How failures of the parts (archive, provenance) become the worker's refusal codes. */
import { ArchiveError } from '../archive/index.js';
import { ProvenanceError } from '../provenance/index.js';
import type { ProtocolError } from '../protocol/index.js';
import { WorkerError, isProtocolError } from '../protocol/index.js';

/** Turns failures of the parts into the worker's refusal codes; protocol failures pass through. */
export function refusal(
  err: unknown,
  code: WorkerError['code'],
  what: string,
): WorkerError | ProtocolError {
  if (isProtocolError(err) || err instanceof WorkerError) return err;
  if (err instanceof ArchiveError || err instanceof ProvenanceError) {
    return new WorkerError(code, `${what} (${err.code}): ${err.message}`, {
      ...(err.path ? { path: err.path } : {}),
      cause: err,
    });
  }
  throw err;
}
