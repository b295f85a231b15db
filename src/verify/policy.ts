/**
 * The trust policy, built in one place from a policy file and command-line style flags (the CLI,
 * the action and the agent all call `buildTrustPolicy`). Inputs are validated here, at the edge,
 * with messages that name the field and the expected form.
 */
import type { z } from 'zod';
import { pcr3ForIamRole } from '../attestation/index.js';
import { toHex } from '../util/hex.js';
import { VerifyError } from './errors.js';
import type { PolicyFile } from './policy-schema.js';
import { MAX_MIN_BUILDERS, PCR_HEX_RE, policyFileSchema } from './policy-schema.js';
import { isFullCommit, normaliseRepository } from './source.js';
import type { TrustPolicy, TrustedBuilder, TrustedImage } from './types.js';

/** Largest policy file read. */
export const MAX_POLICY_BYTES = 1024 * 1024;
/** Largest nonce the NSM accepts (bytes). */
export const MAX_NONCE_BYTES = 512;

/** Policy settings given as flags (CLI), inputs (action) or configuration (agent). */
export interface PolicyFlags {
  /** `--nonce <hex>`: expected attestation nonce. */
  nonce?: string;
  /** `--commit <sha>`: expected source commit (full id); overrides the file. */
  commit?: string;
  /** `--repo <url>`: expected repository; overrides the file. */
  repository?: string;
  /** `--pcr <i>=<hex>` (repeatable): extra PCR expectations; extend and override the file's. */
  pcrs?: readonly string[];
  /** `--min-builders <k>`: overrides the file. */
  minBuilders?: number | string;
  /** `--allow-simulated`, `--allow-debug`: can only turn these on. */
  allowSimulated?: boolean;
  allowDebug?: boolean;
}

export interface PolicyParseOptions {
  /** Trusted images when the file lists none; their simulated measurements complete the file's. */
  defaultImages: readonly TrustedImage[];
  /** Name used in messages, e.g. the file's path. Default `policy.json`. */
  name?: string;
}

function policyError(where: string, path: string, message: string, cause?: unknown): VerifyError {
  return new VerifyError(
    'POLICY_INVALID',
    `${where}: ${path === '' ? '' : `${path}: `}${message}`,
    {
      path,
      cause,
    },
  );
}

type Issue = z.core.$ZodIssue;

function describeInput(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

/** Custom text for type errors (zod's default names neither a missing field nor what was found). */
function typeMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code !== 'invalid_type') return undefined;
  if (iss.input === undefined) return `required (${iss.expected})`;
  return `expected ${iss.expected}, got ${describeInput(iss.input)}`;
}

function firstIssue(issues: readonly Issue[]): { path: string; message: string } {
  const iss = issues[0]!;
  const path = iss.path.map(String);
  if (iss.code === 'unrecognized_keys') {
    const key = iss.keys[0] ?? '';
    return { path: [...path, key].join('.'), message: 'unknown field' };
  }
  if (iss.code === 'invalid_key') {
    return { path: path.join('.'), message: iss.issues[0]?.message ?? iss.message };
  }
  return { path: path.join('.'), message: iss.message };
}

function lower(m: { pcr0: string; pcr1: string; pcr2: string }): {
  pcr0: string;
  pcr1: string;
  pcr2: string;
} {
  return { pcr0: m.pcr0.toLowerCase(), pcr1: m.pcr1.toLowerCase(), pcr2: m.pcr2.toLowerCase() };
}

function fileImages(file: PolicyFile, defaults: readonly TrustedImage[]): TrustedImage[] {
  if (file.images === undefined) return defaults.map((i) => ({ ...i }));
  return file.images.map((i) => {
    const img: TrustedImage = { name: i.name, version: i.version, ...lower(i) };
    // A policy that pins the real measurements of a published image also accepts the simulated
    // bundles of that image (still only with allowSimulated).
    const sim =
      i.simulated ?? defaults.find((d) => d.name === i.name && d.version === i.version)?.simulated;
    if (sim !== undefined) img.simulated = lower(sim);
    return img;
  });
}

function fileBuilders(file: PolicyFile, where: string): TrustedBuilder[] | undefined {
  if (file.builders === undefined) return undefined;
  const out: TrustedBuilder[] = [];
  file.builders.forEach((b, i) => {
    const pcr3 = 'iamRole' in b ? toHex(pcr3ForIamRole(b.iamRole)) : b.pcr3.toLowerCase();
    const same = out.findIndex((o) => o.name === b.name || o.pcr3 === pcr3);
    if (same >= 0) {
      throw policyError(
        where,
        `builders.${i}`,
        `repeats builder ${same} (${out[same]!.name}): each builder is listed once`,
      );
    }
    out.push({ name: b.name, pcr3 });
  });
  return out;
}

/** Why an IAM-role-looking string is not the ARN AWS measures into PCR3. */
function roleHint(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^arn:[^:]+:iam::[0-9]{12}:instance-profile\//.test(value)) {
    return 'this is an instance profile ARN; PCR3 measures the ARN of the role inside it (arn:aws:iam::123456789012:role/Name)';
  }
  if (/^arn:[^:]+:sts::[0-9]{12}:assumed-role\//.test(value)) {
    return 'this is an STS assumed-role ARN (what get-caller-identity prints); PCR3 measures the IAM role ARN (arn:aws:iam::123456789012:role/Name, path included)';
  }
  return undefined;
}

/**
 * Parses a policy file (JSON) into a TrustPolicy. Throws `VerifyError` `POLICY_INVALID` whose
 * message names the file and the field, e.g.
 * `policy.json: builders.1.iamRole: expected an IAM role ARN like arn:aws:iam::123456789012:role/Name`.
 */
export function parsePolicy(json: string | Uint8Array, opts: PolicyParseOptions): TrustPolicy {
  const where = opts.name ?? 'policy.json';
  const size = typeof json === 'string' ? json.length : json.length;
  if (size > MAX_POLICY_BYTES) {
    throw policyError(where, '', `larger than ${MAX_POLICY_BYTES} bytes`);
  }
  let text: string;
  try {
    text = typeof json === 'string' ? json : new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch (e) {
    throw policyError(where, '', 'not valid UTF-8', e);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw policyError(where, '', `not valid JSON (${(e as Error).message})`, e);
  }
  const parsed = policyFileSchema.safeParse(data, { error: typeMessage });
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error.issues);
    const hint = path.endsWith('.iamRole') ? roleHint(valueAt(data, path)) : undefined;
    throw policyError(where, path, hint ?? message);
  }
  const file = parsed.data;
  const builders = fileBuilders(file, where);
  if (builders !== undefined && file.minBuilders > builders.length) {
    throw policyError(
      where,
      'minBuilders',
      `asks for ${file.minBuilders} agreeing builders but only ${builders.length} are trusted`,
    );
  }
  const policy: TrustPolicy = {
    images: fileImages(file, opts.defaultImages),
    minBuilders: file.minBuilders,
    allowDebug: file.allowDebug,
    allowSimulated: file.allowSimulated,
  };
  if (builders !== undefined) policy.builders = builders;
  if (file.maxAgeSeconds !== undefined) policy.maxAgeSeconds = file.maxAgeSeconds;
  if (file.source !== undefined) {
    const source: { repository?: string; commit?: string } = {};
    if (file.source.commit !== undefined) source.commit = file.source.commit.toLowerCase();
    if (file.source.repository !== undefined) {
      const repo = normaliseRepository(file.source.repository);
      if (repo === null) {
        throw policyError(
          where,
          'source.repository',
          'expected a repository URL like https://github.com/owner/repo',
        );
      }
      source.repository = repo;
    }
    policy.source = source;
  }
  if (file.pcrs !== undefined) {
    policy.pcrs = new Map(
      Object.entries(file.pcrs).map(([i, v]) => [Number(i), v.toLowerCase()] as const),
    );
  }
  return policy;
}

function valueAt(data: unknown, path: string): unknown {
  let v = data;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function flagError(flag: string, message: string): VerifyError {
  return new VerifyError('POLICY_INVALID', `${flag}: ${message}`, { path: flag });
}

/** Parses `--pcr <i>=<hex>` values into index -> lower-case hex. */
export function parsePcrFlags(values: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const v of values) {
    const m = /^([0-9]{1,2})=(?:0x)?([0-9a-fA-F]+)$/.exec(v);
    const index = m === null ? NaN : Number(m[1]);
    if (m === null || index > 31) {
      throw flagError(
        '--pcr',
        `expected <index>=<hex> with an index 0-31, got ${JSON.stringify(v)}`,
      );
    }
    if (!PCR_HEX_RE.test(m[2]!)) {
      throw flagError('--pcr', `PCR${index}: expected 96 hex digits (a SHA-384 PCR value)`);
    }
    out.set(index, m[2]!.toLowerCase());
  }
  return out;
}

function applyFlags(policy: TrustPolicy, flags: PolicyFlags): void {
  if (flags.nonce !== undefined) {
    const n = flags.nonce.replace(/^0x/i, '');
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(n) || n.length / 2 > MAX_NONCE_BYTES) {
      throw flagError(
        '--nonce',
        `expected hex (an even number of hex digits, at most ${MAX_NONCE_BYTES} bytes)`,
      );
    }
    policy.nonce = n.toLowerCase();
  }
  if (flags.commit !== undefined) {
    if (!isFullCommit(flags.commit)) {
      throw flagError(
        '--commit',
        'expected a full commit id (40 or 64 hex digits; abbreviated ids are not accepted)',
      );
    }
    policy.source = { ...policy.source, commit: flags.commit.toLowerCase() };
  }
  if (flags.repository !== undefined) {
    const repo = normaliseRepository(flags.repository);
    if (repo === null) {
      throw flagError('--repo', 'expected a repository URL like https://github.com/owner/repo');
    }
    policy.source = { ...policy.source, repository: repo };
  }
  if (flags.pcrs !== undefined && flags.pcrs.length > 0) {
    const merged = new Map(policy.pcrs ?? []);
    for (const [i, v] of parsePcrFlags(flags.pcrs)) merged.set(i, v);
    policy.pcrs = merged;
  }
  if (flags.minBuilders !== undefined) {
    const k =
      typeof flags.minBuilders === 'number'
        ? flags.minBuilders
        : /^[0-9]+$/.test(flags.minBuilders)
          ? Number(flags.minBuilders)
          : NaN;
    if (!Number.isInteger(k) || k < 1 || k > MAX_MIN_BUILDERS) {
      throw flagError('--min-builders', `expected a whole number from 1 to ${MAX_MIN_BUILDERS}`);
    }
    if (policy.builders !== undefined && k > policy.builders.length) {
      throw flagError(
        '--min-builders',
        `asks for ${k} agreeing builders but the policy trusts only ${policy.builders.length}`,
      );
    }
    policy.minBuilders = k;
  }
  if (flags.allowSimulated === true) policy.allowSimulated = true;
  if (flags.allowDebug === true) policy.allowDebug = true;
}

/** Inputs of `buildTrustPolicy`. */
export interface TrustPolicyInput {
  /** The policy file's bytes or text, and its name for messages. */
  file?: { text: string | Uint8Array; name?: string };
  flags?: PolicyFlags;
  /** The images published with this version (enclave/images.json), trusted by default. */
  defaultImages: readonly TrustedImage[];
}

/**
 * Builds the TrustPolicy from an optional policy file and flags: flags override the file's source
 * and k, extend its PCR expectations, and can only turn `allowSimulated`/`allowDebug` on. Without a
 * file: the published images, any builder, k = 1. Throws `VerifyError` `POLICY_INVALID` naming the
 * field or the flag.
 */
export function buildTrustPolicy(input: TrustPolicyInput): TrustPolicy {
  const policy: TrustPolicy =
    input.file !== undefined
      ? parsePolicy(input.file.text, {
          defaultImages: input.defaultImages,
          name: input.file.name ?? 'policy.json',
        })
      : {
          images: input.defaultImages.map((i) => ({ ...i })),
          minBuilders: 1,
          allowDebug: false,
          allowSimulated: false,
        };
  if (input.flags !== undefined) applyFlags(policy, input.flags);
  return policy;
}
