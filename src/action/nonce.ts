/**
 * The attestation nonce of a workflow run. The action chooses the nonce (never the build host), so
 * an attestation cannot be replayed from another request; deriving it from the run makes it
 * recomputable by anyone who knows the run:
 *
 *   nonce = hex( SHA-256( UTF-8( "tee-compile/action/nonce/v1\n"
 *                                + lower(GITHUB_REPOSITORY) + "\n"
 *                                + GITHUB_RUN_ID + "\n"
 *                                + GITHUB_RUN_ATTEMPT ) ) )
 *
 * e.g. `printf 'tee-compile/action/nonce/v1\n%s\n%s\n%s' example/hello 123 1 | sha256sum`.
 * The prefix is versioned: a new derivation gets a new prefix, never a new meaning for this one.
 */
import { createHash } from 'node:crypto';

/** Domain-separation prefix of the derivation (version 1). */
export const NONCE_PREFIX = 'tee-compile/action/nonce/v1';

/** The nonce (64 hex digits) of a run, as documented above. */
export function deriveNonce(run: {
  repository: string;
  runId: string;
  runAttempt: string;
}): string {
  const text = `${NONCE_PREFIX}\n${run.repository.toLowerCase()}\n${run.runId}\n${run.runAttempt}`;
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
