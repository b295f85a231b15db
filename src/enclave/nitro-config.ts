/**
 * Settings of the `nitro` backend: one validated object, from the agent's configuration file or
 * the CLI's flags. Errors name the field (`nitro.cidRange.min: …`).
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import { NitroConfigError } from './nitro-errors.js';

/** The vsock port the enclave images listen on (`socat VSOCK-LISTEN:5000,…` in the image). */
export const DEFAULT_VSOCK_PORT = 5000;
/** The bridge: socat relays its stdin/stdout to the enclave's vsock port (nitro-brief §5.2). */
export const DEFAULT_BRIDGE_COMMAND = ['socat', '-', 'VSOCK-CONNECT:{cid}:{port}'] as const;
/**
 * CIDs the backend picks from. nitro-cli refuses 0-3 and u32::MAX (aws-nitro-enclaves-cli
 * `src/common/commands_parser.rs parse_enclave_cid`) and the hypervisor hands out small CIDs from
 * 16 when none is given; this range stays clear of both.
 */
export const DEFAULT_CID_RANGE = { min: 10_000, max: 999_999 } as const;
/** Largest CID nitro-cli accepts (u32::MAX is reserved, nitro-brief §4.6). */
export const MAX_CID = 0xffff_fffe;
/** Time the worker gets from run-enclave to its first answer (large EIFs boot slowly). */
export const DEFAULT_BOOT_TIMEOUT_SECONDS = 180;
/** Interval of describe-enclaves polls while enclaves run. */
export const DEFAULT_POLL_INTERVAL_MS = 2000;
/** Interval between attempts to reach a booting worker. */
export const DEFAULT_BOOT_PROBE_INTERVAL_MS = 500;
/** run-enclave attempts with a fresh CID when the CID turned out to be taken. */
export const DEFAULT_CID_ATTEMPTS = 4;
/** Time limit of describe-enclaves / terminate-enclave. */
export const DEFAULT_COMMAND_TIMEOUT_SECONDS = 60;
/** Time limit of run-enclave (it waits for the boot heartbeat). */
export const DEFAULT_RUN_TIMEOUT_SECONDS = 600;

const OWNER = /^[a-z0-9]{1,24}$/;

/** Schema of the nitro backend's settings. */
export const NitroBackendConfigSchema = z
  .strictObject({
    nitroCli: z.string().min(1).default('nitro-cli').meta({ description: 'nitro-cli executable.' }),
    imagesDir: z
      .string()
      .min(1)
      .meta({ description: 'Directory holding the .eif of each image the host serves.' }),
    bridgeCommand: z
      .array(z.string().min(1))
      .min(1)
      .default([...DEFAULT_BRIDGE_COMMAND])
      .refine((a) => a.some((s) => s.includes('{cid}')), {
        error: 'expected a command with a {cid} placeholder',
      })
      .meta({
        description:
          'Command whose stdin/stdout is the byte stream to the enclave; {cid} and {port} are replaced.',
      }),
    vsockPort: z.number().int().min(1).max(0xffff_ffff).default(DEFAULT_VSOCK_PORT),
    owner: z
      .string()
      .regex(OWNER, { error: 'expected 1 to 24 lower-case letters and digits' })
      .optional()
      .meta({
        description:
          'Identifies this agent: its enclaves are named tee-compile-<owner>-<build>, and only those are cleaned up.',
      }),
    dataDir: z
      .string()
      .min(1)
      .optional()
      .meta({ description: 'The agent data directory; the default owner is derived from it.' }),
    cidRange: z
      .strictObject({
        min: z.number().int().min(4).max(MAX_CID),
        max: z.number().int().min(4).max(MAX_CID),
      })
      .refine((r) => r.min <= r.max, { error: 'min must not exceed max', path: ['min'] })
      .default({ ...DEFAULT_CID_RANGE }),
    cidAttempts: z.number().int().min(1).max(16).default(DEFAULT_CID_ATTEMPTS),
    bootTimeoutSeconds: z.number().positive().max(3600).default(DEFAULT_BOOT_TIMEOUT_SECONDS),
    bootProbeIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(DEFAULT_BOOT_PROBE_INTERVAL_MS),
    pollIntervalMs: z.number().int().min(10).max(600_000).default(DEFAULT_POLL_INTERVAL_MS),
    commandTimeoutSeconds: z.number().positive().max(3600).default(DEFAULT_COMMAND_TIMEOUT_SECONDS),
    runTimeoutSeconds: z.number().positive().max(7200).default(DEFAULT_RUN_TIMEOUT_SECONDS),
    threadsPerCore: z
      .number()
      .int()
      .min(1)
      .max(8)
      .optional()
      .meta({ description: 'Hardware threads per core (default: read from sysfs).' }),
    pool: z
      .strictObject({
        cpus: z.number().int().min(1),
        memoryMiB: z.number().int().min(1),
      })
      .optional()
      .meta({ description: 'The enclave pool (allocator.yaml), to refuse what cannot fit.' }),
    simulation: z.boolean().default(false).meta({
      description:
        'Check EIFs against the simulated measurements (tests with a stand-in nitro-cli only).',
    }),
  })
  .meta({ title: 'nitro backend settings' });

/** Settings as given (defaults not yet applied). */
export type NitroBackendConfigInput = z.input<typeof NitroBackendConfigSchema>;
/** Settings with defaults applied. */
export type NitroBackendConfig = z.output<typeof NitroBackendConfigSchema>;

/** Validates the settings; throws {@link NitroConfigError} naming the failing field. */
export function parseNitroBackendConfig(input: unknown): NitroBackendConfig {
  const r = NitroBackendConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const path = i.path.map(String).join('.');
  throw new NitroConfigError(
    'NITRO_CONFIG_INVALID',
    `nitro${path ? `.${path}` : ''}: ${i.message}`,
    { ...(path ? { path } : {}), cause: r.error },
  );
}

/** An owner name for a data directory: stable for the directory, distinct between directories. */
export function ownerForDirectory(dir: string): string {
  return `d${createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 12)}`;
}

/** The owner of this backend's enclaves: configured, else from the data directory, else the user. */
export function resolveOwner(c: Pick<NitroBackendConfig, 'owner' | 'dataDir'>): string {
  if (c.owner !== undefined) return c.owner;
  if (c.dataDir !== undefined) return ownerForDirectory(c.dataDir);
  return `u${process.getuid?.() ?? 0}`;
}
