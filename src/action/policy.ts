/**
 * The trust policy of one run, built in one place from the `policy` file and the inputs that act
 * as flags (`min-builders`, `allow-simulated`, and in build mode the nonce, commit and repository
 * the action itself asked for). A bad file or value is refused naming the input.
 */
import type { PolicyFlags, TrustPolicy, TrustedImage } from '../verify/index.js';
import { isVerifyError } from '../verify/index.js';
import { loadTrustPolicy } from '../verify/node.js';
import { ActionError } from './errors.js';

/** The inputs the policy is built from. */
export interface PolicyInputs {
  policyFile: string | null;
  minBuilders: number | null;
  allowSimulated: boolean;
  nonce?: string | null;
  commit?: string;
  /** The repository the bundle must record (build mode: this one, checked beforehand). */
  repository?: string;
}

const FLAG_INPUTS: Record<string, string> = {
  '--min-builders': 'min-builders',
  '--nonce': 'nonce',
  '--commit': 'commit',
};

/** Builds the policy; throws `ActionError` `INPUT_INVALID` naming the input at fault. */
export async function actionPolicy(
  p: PolicyInputs,
  defaultImages: readonly TrustedImage[],
): Promise<TrustPolicy> {
  const flags: PolicyFlags = { allowSimulated: p.allowSimulated };
  if (p.minBuilders !== null) flags.minBuilders = p.minBuilders;
  if (p.nonce !== undefined && p.nonce !== null) flags.nonce = p.nonce;
  if (p.commit !== undefined) flags.commit = p.commit;
  if (p.repository !== undefined) flags.repository = p.repository;
  try {
    return await loadTrustPolicy({
      ...(p.policyFile === null ? {} : { policyFile: p.policyFile }),
      flags,
      defaultImages,
    });
  } catch (e) {
    if (!isVerifyError(e)) throw e;
    const input = (e.path !== undefined ? FLAG_INPUTS[e.path] : undefined) ?? 'policy';
    throw new ActionError('INPUT_INVALID', `input "${input}": ${e.message}`, {
      path: input,
      cause: e,
    });
  }
}
