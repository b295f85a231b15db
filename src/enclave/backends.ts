/**
 * The one place a backend is made from its name and settings, for every caller that lets the
 * user choose one (`tee-compile build --backend`, `tee-compile agent --backend`).
 */
import type { ImageCatalog } from '../catalog/index.js';
import type { LocalBackendOptions } from './local.js';
import { LocalBackend } from './local.js';
import { NitroBackend } from './nitro.js';
import { parseNitroBackendConfig } from './nitro-config.js';
import { NitroConfigError } from './nitro-errors.js';
import type { EnclaveBackend } from './types.js';

/** Backend names. */
export const BACKEND_NAMES = ['local', 'nitro'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Settings of every backend; only the chosen one's are read. */
export interface BackendConfig {
  /** The image catalog (default: the package's enclave/images.json). */
  catalog?: ImageCatalog;
  /** Environment of the processes a backend starts (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Diagnostics. */
  log?: (message: string) => void;
  local?: Omit<LocalBackendOptions, 'catalog' | 'env'>;
  /**
   * The nitro backend's settings (src/enclave/nitro-config.ts), unvalidated: from a configuration
   * file's `nitro` object or from flags. Validated here; errors name the field.
   */
  nitro?: unknown;
}

/**
 * Makes the backend `name` (`local` or `nitro`). Throws a `TypeError` for an unknown name and a
 * {@link NitroConfigError} (`NITRO_CONFIG_INVALID`, `path` = the field) for invalid nitro
 * settings.
 */
export function createBackend(name: string, config: BackendConfig = {}): EnclaveBackend {
  switch (name) {
    case 'local':
      return new LocalBackend({
        ...config.local,
        ...(config.catalog ? { catalog: config.catalog } : {}),
        ...(config.env ? { env: config.env } : {}),
      });
    case 'nitro':
      if (config.nitro === undefined)
        throw new NitroConfigError(
          'NITRO_CONFIG_INVALID',
          'nitro: settings are required (at least imagesDir, the directory holding the .eif files)',
        );
      return new NitroBackend(parseNitroBackendConfig(config.nitro), {
        ...(config.catalog ? { catalog: config.catalog } : {}),
        ...(config.env ? { env: config.env } : {}),
        ...(config.log ? { log: config.log } : {}),
      });
    default:
      throw new TypeError(`unknown backend '${name}': expected ${BACKEND_NAMES.join(' or ')}`);
  }
}
