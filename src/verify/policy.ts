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
import type { PolicyFlags } from './policy-flags.js';
import { applyFlags, builderKeyFromPem } from './policy-flags.js';
import { policyFileSchema } from './policy-schema.js';
import { parseRepositoryUrl } from '../provenance/index.js';
import { originFromFile } from './origin-policy.js';
import type { TrustPolicy, TrustedBuilder, TrustedImage } from './types.js';

/** Largest policy file read. */
export const MAX_POLICY_BYTES = 1024 * 1024;

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
    out.push({
      name: b.name,
      pcr3,
      ...(b.publicKey !== undefined
        ? { publicKey: builderKeyFromPem(b.publicKey, `${where}: builders.${i}.publicKey`) }
        : {}),
    });
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
    const source: NonNullable<TrustPolicy['source']> = originFromFile(file.source, where);
    if (file.source.commit !== undefined) source.commit = file.source.commit.toLowerCase();
    if (file.source.repository !== undefined) {
      const repo = parseRepositoryUrl(file.source.repository);
      if (!repo.ok) {
        throw policyError(
          where,
          'source.repository',
          `expected a repository URL like https://github.com/owner/repo: ${repo.code}: ${repo.message}`,
        );
      }
      source.repository = repo.url;
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
