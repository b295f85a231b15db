/**
 * The agent's sealed builder key (`builderKey` in its settings): the file read once at start,
 * with the KMS client every build's unsealing goes through (the instance's credentials; the
 * enclave has no network). See docs/builder-key.md.
 */
import { TeeCompileError } from '../errors.js';
import type { HostBuilderKey } from '../kms/node.js';
import { openHostBuilderKey } from '../kms/node.js';
import type { AgentSettings } from './config.js';
import { AgentError } from './errors.js';

/**
 * Opens the settings' sealed key; undefined without one. A malformed file is `SEALED_KEY_INVALID`;
 * one that cannot be read is `AGENT_CONFIG_INVALID` naming `builderKey.sealedKeyFile`.
 */
export async function openAgentBuilderKey(
  k: AgentSettings['builderKey'],
  env: NodeJS.ProcessEnv,
): Promise<HostBuilderKey | undefined> {
  if (k === null) return undefined;
  try {
    return await openHostBuilderKey(k.sealedKeyFile, env, {
      ...(k.region !== undefined ? { region: k.region } : {}),
      ...(k.endpoint !== undefined ? { endpoint: k.endpoint } : {}),
    });
  } catch (e) {
    if (e instanceof TeeCompileError || typeof (e as NodeJS.ErrnoException).code !== 'string')
      throw e;
    throw new AgentError(
      'AGENT_CONFIG_INVALID',
      `builderKey.sealedKeyFile: cannot read ${k.sealedKeyFile}: ${(e as Error).message}`,
      { path: 'builderKey.sealedKeyFile', cause: e },
    );
  }
}
