/**
 * The agent's settings: one typed object built in one place from the configuration file and the
 * command-line flags (flags win), with every limit named.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { AgentError } from './errors.js';
import { firstIssue } from './zod-issues.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Default address: loopback only; a reverse proxy or an SSH tunnel exposes it deliberately. */
export const DEFAULT_LISTEN = '127.0.0.1:8723';
/** Largest JSON body (`source_data` is base64: about 4/3 of the archive). */
export const DEFAULT_MAX_JSON_BODY_BYTES = 96 * MiB;
/** Largest source archive (multipart `source` part, or decoded `source_data`). */
export const DEFAULT_MAX_SOURCE_BYTES = 64 * MiB;
/** Largest dependency set (multipart `dependencies` part, or decoded `dependencies_data`). */
export const DEFAULT_MAX_DEPENDENCIES_BYTES = 2 * GiB;
/** Largest extracted source tree (sum of file sizes). */
export const DEFAULT_MAX_SOURCE_TREE_BYTES = 1 * GiB;
/** Jobs waiting in the queue before `POST /build` answers 503. */
export const DEFAULT_MAX_QUEUED_JOBS = 64;
/** Budget of the whole data directory; over it, new jobs are refused with 507. */
export const DEFAULT_MAX_DATA_BYTES = 50 * GiB;
/** Free space the file system must keep; below it, new jobs are refused with 507. */
export const DEFAULT_MIN_FREE_BYTES = 1 * GiB;
/** Time a `repo_url` clone may take. */
export const DEFAULT_CLONE_TIMEOUT_SECONDS = 600;
/** Commits fetched by a `repo_url` clone (servers that cannot do shallow fetches get a full clone). */
export const DEFAULT_CLONE_DEPTH = 1;
/** Finished jobs (records and results) are kept this long. */
export const DEFAULT_RETENTION_MAX_AGE_HOURS = 7 * 24;
/** Finished jobs are pruned, oldest first, while their results add up to more than this. */
export const DEFAULT_RETENTION_MAX_TOTAL_BYTES = 20 * GiB;
/** Dependency sets the agent fetched are evicted, least recently used first, beyond this. */
export const DEFAULT_RETENTION_MAX_CACHE_BYTES = 10 * GiB;
/** Time running builds get to finish after SIGTERM/SIGINT before they are cancelled. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;
/** Interval of SSE keep-alive comments on an idle stream. */
export const DEFAULT_SSE_KEEPALIVE_SECONDS = 15;
/** Nitro: enclaves per parent instance (AWS limit). */
export const NITRO_MAX_ENCLAVES = 4;
/** Where nitro-cli's allocator keeps the CPU/memory pool given to enclaves. */
export const NITRO_ALLOCATOR_FILE = '/etc/nitro_enclaves/allocator.yaml';
/** Largest configuration file read. */
const MAX_CONFIG_FILE_BYTES = 1 * MiB;

const positiveInt = z.number().int().min(1);
const bytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Schema of the configuration file (`--config`); every field is optional. */
export const AgentConfigFileSchema = z.strictObject({
  backend: z.enum(['nitro', 'local']).optional(),
  listen: z.string().optional(),
  dataDir: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  maxConcurrent: positiveInt.max(64).optional(),
  singleBuild: z.boolean().optional(),
  allowHttpRepos: z.boolean().optional(),
  allowedRepoHosts: z.array(z.string().min(1).max(253)).max(1000).optional(),
  capacity: z
    .strictObject({
      enclaves: positiveInt.max(1024).optional(),
      cpus: positiveInt.max(4096).optional(),
      memoryMiB: positiveInt.optional(),
    })
    .optional(),
  retention: z
    .strictObject({
      maxAgeHours: z.number().min(0).optional(),
      maxTotalBytes: bytes.optional(),
      maxCacheBytes: bytes.optional(),
    })
    .optional(),
  limits: z
    .strictObject({
      maxJsonBodyBytes: positiveInt.optional(),
      maxSourceBytes: positiveInt.optional(),
      maxDependenciesBytes: positiveInt.optional(),
      maxSourceTreeBytes: positiveInt.optional(),
      maxQueuedJobs: positiveInt.optional(),
      maxDataBytes: positiveInt.optional(),
      minFreeBytes: bytes.optional(),
      cloneTimeoutSeconds: positiveInt.optional(),
      cloneDepth: positiveInt.optional(),
    })
    .optional(),
  shutdownGraceSeconds: z.number().min(0).optional(),
  sseKeepAliveSeconds: z.number().min(0.05).max(3600).optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  /** Settings of the local backend (a sandboxed process attesting with the software NSM). */
  local: z
    .strictObject({
      simulatedRole: z.string().min(1).max(2048).optional(),
      allowUnisolated: z.boolean().optional(),
    })
    .optional(),
  /** Settings of the nitro backend, checked by the backend itself (src/enclave/nitro-config.ts). */
  nitro: z.record(z.string(), z.unknown()).optional(),
  /**
   * The host's KMS-sealed builder key (docs/builder-key.md): every build's provenance is signed
   * with it, unsealed by KMS for the build's enclave alone.
   */
  builderKey: z
    .strictObject({
      /** builder-key.json of `tee-compile kms create-builder-key`. */
      sealedKeyFile: z.string().min(1).max(4096),
      /** KMS region; default the one in the file. */
      region: z
        .string()
        .regex(/^[a-z0-9-]{1,32}$/)
        .optional(),
      /** KMS endpoint (e.g. a VPC endpoint); default the SDK's. */
      endpoint: z
        .url({ protocol: /^https?$/ })
        .max(2048)
        .optional(),
    })
    .optional(),
});

export type AgentConfigFile = z.infer<typeof AgentConfigFileSchema>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the host can give to enclaves at once. */
export interface Capacity {
  enclaves: number;
  cpus: number;
  memoryMiB: number;
}

/** The resolved settings every part of the agent reads. */
export interface AgentSettings {
  backend: 'nitro' | 'local';
  listen: { host: string; port: number };
  dataDir: string;
  tokenFile: string | null;
  maxConcurrent: number;
  singleBuild: boolean;
  allowHttpRepos: boolean;
  /** Null: any host. */
  allowedRepoHosts: string[] | null;
  capacity: Capacity;
  retention: { maxAgeMs: number; maxTotalBytes: number; maxCacheBytes: number };
  limits: {
    maxJsonBodyBytes: number;
    maxSourceBytes: number;
    maxDependenciesBytes: number;
    maxSourceTreeBytes: number;
    maxQueuedJobs: number;
    maxDataBytes: number;
    minFreeBytes: number;
    cloneTimeoutMs: number;
    cloneDepth: number;
  };
  shutdownGraceMs: number;
  sseKeepAliveMs: number;
  logLevel: LogLevel;
  local: { simulatedRole?: string; allowUnisolated?: boolean };
  /** Unvalidated: the nitro backend validates its own settings. */
  nitro: Record<string, unknown>;
  /** The sealed builder key, or null: builds are unsigned (attested all the same). */
  builderKey: { sealedKeyFile: string; region?: string; endpoint?: string } | null;
}

/** Settings given on the command line (they override the file). */
export interface AgentFlags {
  backend?: string;
  listen?: string;
  dataDir?: string;
  tokenFile?: string;
  maxConcurrent?: string;
  singleBuild?: boolean;
  /** `--sealed-key`: the sealed builder key file (`builderKey.sealedKeyFile`). */
  sealedKey?: string;
}

function invalid(field: string, message: string): AgentError {
  return new AgentError('AGENT_CONFIG_INVALID', `${field}: ${message}`, { path: field });
}

/** Parses `host:port` (`[v6]:port` for IPv6); port 0 asks the system for a free port. */
export function parseListen(value: string, field = 'listen'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalid(field, `expected host:port, got '${value}'`);
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Reads and validates a configuration file; relative paths in it are relative to the file. */
export async function readConfigFile(file: string): Promise<AgentConfigFile> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_CONFIG_FILE_BYTES)
      throw invalid('config', `file is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw invalid('config', `cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid('config', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = AgentConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    throw new AgentError('AGENT_CONFIG_INVALID', `${file}: ${issue.message}`, {
      path: issue.field,
    });
  }
  const base = dirname(resolve(file));
  const cfg = parsed.data;
  if (cfg.dataDir !== undefined) cfg.dataDir = resolve(base, cfg.dataDir);
  if (cfg.tokenFile !== undefined) cfg.tokenFile = resolve(base, cfg.tokenFile);
  if (cfg.builderKey !== undefined)
    cfg.builderKey = {
      ...cfg.builderKey,
      sealedKeyFile: resolve(base, cfg.builderKey.sealedKeyFile),
    };
  if (cfg.nitro !== undefined && typeof cfg.nitro.imagesDir === 'string')
    cfg.nitro = { ...cfg.nitro, imagesDir: resolve(base, cfg.nitro.imagesDir) };
  return cfg;
}

/**
 * Reads nitro-cli's allocator file (`memory_mib`, and `cpu_count` or `cpu_pool`) for the pool of
 * CPUs and memory the host reserved for enclaves; null when it cannot be read.
 */
export async function readNitroAllocator(
  file = NITRO_ALLOCATOR_FILE,
): Promise<{ cpus: number; memoryMiB: number } | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  // The allocator's own parser skips everything before the `---` line.
  const body =
    text.includes('\n---') || text.startsWith('---') ? text.slice(text.indexOf('---')) : text;
  const value = (key: string): string | undefined =>
    new RegExp(`^${key}:\\s*['"]?([^'"#\\n]+)`, 'm').exec(body)?.[1]?.trim();
  const memoryMiB = Number(value('memory_mib') ?? NaN);
  let cpus = Number(value('cpu_count') ?? NaN);
  const pool = value('cpu_pool');
  if (pool !== undefined) cpus = countCpuList(pool);
  if (!Number.isInteger(memoryMiB) || !Number.isInteger(cpus) || cpus < 1 || memoryMiB < 1)
    return null;
  return { cpus, memoryMiB };
}

/** Counts the CPUs of a list such as `2,3,6-9`. */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) return NaN;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return NaN;
    n += b - a + 1;
  }
  return n;
}

function intFlag(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1)
    throw invalid(field, `expected a positive integer, got '${value}'`);
  return Number(value);
}

/**
 * Builds the settings from the configuration file (optional) and the flags (which win), filling
 * defaults; the nitro capacity comes from the allocator file unless configured.
 */
export async function resolveSettings(
  file: AgentConfigFile,
  flags: AgentFlags,
  env: { cwd: string; allocatorFile?: string },
): Promise<AgentSettings> {
  const backendRaw = flags.backend ?? file.backend ?? 'nitro';
  if (backendRaw !== 'nitro' && backendRaw !== 'local')
    throw invalid('backend', `expected 'nitro' or 'local', got '${backendRaw}'`);
  const backend = backendRaw;
  const listen = parseListen(flags.listen ?? file.listen ?? DEFAULT_LISTEN);
  const dataDirRaw = flags.dataDir ?? file.dataDir;
  if (dataDirRaw === undefined)
    throw invalid('dataDir', 'a data directory is required (--data-dir)');
  const maxConcurrent = intFlag('maxConcurrent', flags.maxConcurrent) ?? file.maxConcurrent ?? 2;
  const tokenFile = flags.tokenFile ?? file.tokenFile;

  let capacity: Capacity;
  if (backend === 'nitro') {
    const pool = await readNitroAllocator(env.allocatorFile);
    capacity = {
      enclaves: Math.min(file.capacity?.enclaves ?? NITRO_MAX_ENCLAVES, NITRO_MAX_ENCLAVES),
      cpus: file.capacity?.cpus ?? pool?.cpus ?? 2,
      memoryMiB: file.capacity?.memoryMiB ?? pool?.memoryMiB ?? 512,
    };
  } else {
    // The local backend shares the host's CPUs rather than reserving them, so by default CPUs do
    // not limit it; memory does.
    capacity = {
      enclaves: file.capacity?.enclaves ?? Math.max(maxConcurrent, availableParallelism()),
      cpus: file.capacity?.cpus ?? 4096,
      memoryMiB: file.capacity?.memoryMiB ?? Math.floor((totalmem() / MiB) * 0.75),
    };
  }
  const l = file.limits ?? {};
  const sealedKeyFile = flags.sealedKey ?? file.builderKey?.sealedKeyFile;
  return {
    backend,
    listen,
    dataDir: resolve(env.cwd, dataDirRaw),
    tokenFile: tokenFile === undefined ? null : resolve(env.cwd, tokenFile),
    maxConcurrent,
    singleBuild: flags.singleBuild ?? file.singleBuild ?? false,
    allowHttpRepos: file.allowHttpRepos ?? false,
    allowedRepoHosts: file.allowedRepoHosts?.map((h) => h.toLowerCase()) ?? null,
    capacity,
    retention: {
      maxAgeMs: (file.retention?.maxAgeHours ?? DEFAULT_RETENTION_MAX_AGE_HOURS) * 3_600_000,
      maxTotalBytes: file.retention?.maxTotalBytes ?? DEFAULT_RETENTION_MAX_TOTAL_BYTES,
      maxCacheBytes: file.retention?.maxCacheBytes ?? DEFAULT_RETENTION_MAX_CACHE_BYTES,
    },
    limits: {
      maxJsonBodyBytes: l.maxJsonBodyBytes ?? DEFAULT_MAX_JSON_BODY_BYTES,
      maxSourceBytes: l.maxSourceBytes ?? DEFAULT_MAX_SOURCE_BYTES,
      maxDependenciesBytes: l.maxDependenciesBytes ?? DEFAULT_MAX_DEPENDENCIES_BYTES,
      maxSourceTreeBytes: l.maxSourceTreeBytes ?? DEFAULT_MAX_SOURCE_TREE_BYTES,
      maxQueuedJobs: l.maxQueuedJobs ?? DEFAULT_MAX_QUEUED_JOBS,
      maxDataBytes: l.maxDataBytes ?? DEFAULT_MAX_DATA_BYTES,
      minFreeBytes: l.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES,
      cloneTimeoutMs: (l.cloneTimeoutSeconds ?? DEFAULT_CLONE_TIMEOUT_SECONDS) * 1000,
      cloneDepth: l.cloneDepth ?? DEFAULT_CLONE_DEPTH,
    },
    shutdownGraceMs: (file.shutdownGraceSeconds ?? DEFAULT_SHUTDOWN_GRACE_SECONDS) * 1000,
    sseKeepAliveMs: (file.sseKeepAliveSeconds ?? DEFAULT_SSE_KEEPALIVE_SECONDS) * 1000,
    logLevel: file.logLevel ?? 'info',
    local: file.local ?? {},
    nitro: file.nitro ?? {},
    builderKey:
      sealedKeyFile === undefined
        ? null
        : {
            ...file.builderKey,
            sealedKeyFile: resolve(env.cwd, sealedKeyFile),
          },
  };
}
