/**
 * What `tee-compile build` builds with: the backend its flags choose (with the nitro settings
 * file) and the host's KMS-sealed builder key.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ImageCatalog } from '../../catalog/index.js';
import type { BackendConfig, EnclaveBackend } from '../../enclave/index.js';
import { createBackend, NitroConfigError } from '../../enclave/index.js';
import type { HostBuilderKey } from '../../kms/node.js';
import type { CliIo } from '../io.js';
import { UsageError, writeLine } from '../io.js';

/** Makes the chosen backend; a bad nitro settings file is a usage error naming the field. */
export async function makeBackend(
  name: 'local' | 'nitro',
  catalog: ImageCatalog,
  io: CliIo,
  o: { role: string; allowUnisolated: boolean; nitroConfig: string | undefined },
): Promise<EnclaveBackend> {
  const workerEntry = io.env.TEE_COMPILE_WORKER;
  const config: BackendConfig = {
    catalog,
    env: io.env,
    local: {
      simulatedRole: o.role,
      allowUnisolated: o.allowUnisolated,
      ...(workerEntry ? { workerEntry } : {}),
    },
    log: (m) => writeLine(io.stderr, `tee-compile: ${m}`),
  };
  if (name === 'nitro') config.nitro = await readNitroSettings(o.nitroConfig!);
  try {
    return createBackend(name, config);
  } catch (e) {
    if (e instanceof NitroConfigError)
      throw new UsageError(`--nitro-config ${o.nitroConfig}: ${e.message}`);
    throw e;
  }
}

/** The nitro settings file; as in the agent's configuration, a relative imagesDir is relative to it. */
async function readNitroSettings(file: string): Promise<unknown> {
  let settings: unknown;
  try {
    settings = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--nitro-config ${file}: ${(e as Error).message}`);
  }
  if (
    settings !== null &&
    typeof settings === 'object' &&
    typeof (settings as { imagesDir?: unknown }).imagesDir === 'string'
  ) {
    const s = settings as { imagesDir: string };
    settings = { ...s, imagesDir: resolve(dirname(file), s.imagesDir) };
  }
  return settings;
}

/** The sealed builder key of `file` with its unsealing through KMS (region from the file). */
export async function sealedKeyOf(file: string, env: NodeJS.ProcessEnv): Promise<HostBuilderKey> {
  // Loaded when a key is given: the AWS SDK is not part of every build's start.
  const { openHostBuilderKey } = await import('../../kms/node.js');
  return openHostBuilderKey(file, env);
}
