/**
 * The origin part of the policy as typed policy: the policy file's fields (./origin-schema.ts)
 * and the flags (`--allowed-signers`, `--pgp-key`, `--tag`).
 */
import type { AllowedSigner } from '../signature/index.js';
import { isSignatureError, parseAllowedSigners } from '../signature/index.js';
import { VerifyError } from './errors.js';
import type { OriginPolicy } from './origin-types.js';

type FileOrigin = {
  tag?: string | undefined;
  signers?:
    | (
        | {
            principal: string;
            sshKey: string;
            validAfter?: string | undefined;
            validBefore?: string | undefined;
            namespaces?: string | undefined;
          }
        | { pgpKey: string }
      )[]
    | undefined;
  requireSigned?: 'commit' | 'tag' | 'none' | undefined;
  requireWorkflow?: boolean | undefined;
  workflowRef?: string[] | undefined;
};

function invalid(path: string, message: string, cause?: unknown): VerifyError {
  return new VerifyError('POLICY_INVALID', `${path}: ${message}`, { path, cause });
}

/** Parses allowed signers text, turning its refusal into POLICY_INVALID naming `where`. */
export function allowedSignersPolicy(text: string, where: string): AllowedSigner[] {
  try {
    return parseAllowedSigners(text, where);
  } catch (e) {
    if (!isSignatureError(e)) throw e;
    throw invalid(where, e.message, e);
  }
}

/** The origin fields of a policy file as typed policy. */
export function originFromFile(f: FileOrigin, where: string): OriginPolicy {
  const out: OriginPolicy = {};
  if (f.tag !== undefined) out.tag = f.tag;
  if (f.requireSigned !== undefined) out.requireSigned = f.requireSigned;
  if (f.requireWorkflow !== undefined) out.requireWorkflow = f.requireWorkflow;
  if (f.workflowRef !== undefined) out.workflowRefs = [...f.workflowRef];
  if (f.signers !== undefined) {
    const signers: NonNullable<OriginPolicy['signers']> = { ssh: [], pgp: [] };
    f.signers.forEach((s, i) => {
      if ('pgpKey' in s) {
        signers.pgp.push(s.pgpKey);
        return;
      }
      const opts = [
        s.namespaces !== undefined ? `namespaces="${s.namespaces}"` : '',
        s.validAfter !== undefined ? `valid-after="${s.validAfter}"` : '',
        s.validBefore !== undefined ? `valid-before="${s.validBefore}"` : '',
      ].filter((o) => o !== '');
      const line = `${s.principal}${opts.length > 0 ? ` ${opts.join(',')}` : ''} ${s.sshKey}`;
      signers.ssh.push(...allowedSignersPolicy(line, `${where}: source.signers.${i}`));
    });
    out.signers = signers;
  }
  return out;
}

/** Flags of the origin part (CLI `verify`, action inputs). */
export interface OriginFlags {
  /** `--tag <name>`. */
  tag?: string;
  /** `--allowed-signers <file>`: its text and name. */
  allowedSigners?: { text: string; name: string };
  /** `--pgp-key <file>` (repeatable): armored public keys. */
  pgpKeys?: readonly string[];
}

/** Applies origin flags: they add signers to the file's, and `--tag` overrides. */
export function applyOriginFlags(source: OriginPolicy, flags: OriginFlags): OriginPolicy {
  const out: OriginPolicy = { ...source };
  if (flags.tag !== undefined) out.tag = flags.tag;
  const ssh =
    flags.allowedSigners === undefined
      ? []
      : allowedSignersPolicy(flags.allowedSigners.text, flags.allowedSigners.name);
  const pgp = [...(flags.pgpKeys ?? [])];
  if (ssh.length > 0 || pgp.length > 0 || flags.allowedSigners !== undefined)
    out.signers = {
      ssh: [...(source.signers?.ssh ?? []), ...ssh],
      pgp: [...(source.signers?.pgp ?? []), ...pgp],
    };
  return out;
}
