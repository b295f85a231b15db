/**
 * Policy settings given as flags (CLI), inputs (action) or configuration (agent), validated at the
 * edge with messages that name the flag.
 */
import { pemToDer } from '../cose/index.js';
import { parseNonceHex } from '../util/nonce.js';
import { VerifyError } from './errors.js';
import type { OriginFlags } from './origin-policy.js';
import { applyOriginFlags } from './origin-policy.js';
import { MAX_MIN_BUILDERS, PCR_HEX_RE } from './policy-schema.js';
import { parseRepositoryUrl } from '../provenance/index.js';
import { isFullCommit } from './source.js';
import type { TrustPolicy } from './types.js';

/** Largest nonce a build takes (bytes); the same bound as every other edge. */
export { MAX_NONCE_BYTES } from '../util/nonce.js';

/** Policy settings given as flags (CLI), inputs (action) or configuration (agent). */
export interface PolicyFlags extends OriginFlags {
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
  /** `--builder-key FILE`: the text of a PEM public key every bundle must be signed with. */
  builderKey?: string;
}

/** SPKI DER of a PEM `PUBLIC KEY` (a builder key), or POLICY_INVALID naming `where`. */
export function builderKeyFromPem(pem: string, where: string): Uint8Array {
  try {
    return pemToDer(pem, 'PUBLIC KEY');
  } catch (e) {
    throw new VerifyError('POLICY_INVALID', `${where}: expected one PEM PUBLIC KEY block`, {
      path: where,
      cause: e,
    });
  }
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

export function applyFlags(policy: TrustPolicy, flags: PolicyFlags): void {
  if (flags.nonce !== undefined) {
    const n = parseNonceHex(flags.nonce);
    if (!n.ok) throw flagError('--nonce', n.message);
    policy.nonce = n.hex;
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
    const repo = parseRepositoryUrl(flags.repository);
    if (!repo.ok) {
      throw flagError(
        '--repo',
        `expected a repository URL like https://github.com/owner/repo: ${repo.code}: ${repo.message}`,
      );
    }
    policy.source = { ...policy.source, repository: repo.url };
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
  if (flags.builderKey !== undefined)
    policy.builderKey = builderKeyFromPem(flags.builderKey, '--builder-key');
  if (flags.tag !== undefined || flags.allowedSigners !== undefined || flags.pgpKeys !== undefined)
    policy.source = { ...policy.source, ...applyOriginFlags(policy.source ?? {}, flags) };
  if (flags.allowSimulated === true) policy.allowSimulated = true;
  if (flags.allowDebug === true) policy.allowDebug = true;
}
