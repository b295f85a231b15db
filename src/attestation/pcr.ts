/**
 * PCR arithmetic (nitro-brief §1.2 "PCR semantics", §2.4): the NSM extends a register as
 * `new = SHA-384(old || data)`; PCR3 and PCR4 are one extension of a zero register with the IAM role
 * ARN and the parent instance id (AWS Nitro Enclaves User Guide, "Where to get an enclave's
 * measurements": PCR3, PCR4).
 */
import { sha384 } from '@noble/hashes/sha2.js';
import type { AttestationDocument } from './types.js';

/** SHA-384 output size: every PCR of a `SHA384` NSM. */
export const PCR_LENGTH = 48;

const UTF8 = new TextEncoder();

/** `SHA-384(old || data)`: the value of a PCR holding `old` after `ExtendPCR` with `data`. */
export function pcrExtend(old: Uint8Array, data: Uint8Array): Uint8Array {
  if (old.length !== PCR_LENGTH)
    throw new TypeError(`pcrExtend: old must be ${PCR_LENGTH} bytes, got ${old.length}`);
  const buf = new Uint8Array(old.length + data.length);
  buf.set(old);
  buf.set(data, old.length);
  return sha384(buf);
}

/**
 * The ARN of an IAM role: `arn:<partition>:iam::<account>:role/<path/>name`. AWS measures the ARN
 * of the role inside the parent instance's instance profile, path included; neither the instance
 * profile's own ARN nor the STS assumed-role ARN gives the PCR3 Nitro reports.
 */
export const IAM_ROLE_ARN_RE =
  /^arn:aws(?:-cn|-us-gov|-iso|-iso-[a-z])?:iam::[0-9]{12}:role\/(?:[\x21-\x2e\x30-\x7e]+\/)*[\w+=,.@-]{1,64}$/;

/** PCR3 of an enclave whose parent instance has the IAM role `arn` (the raw ARN, not hashed). */
export function pcr3ForIamRole(arn: string): Uint8Array {
  return pcrExtend(new Uint8Array(PCR_LENGTH), UTF8.encode(arn));
}

/** PCR4 of an enclave whose parent instance is `instanceId` (e.g. `i-1234567890abcdef0`). */
export function pcr4ForInstanceId(instanceId: string): Uint8Array {
  return pcrExtend(new Uint8Array(PCR_LENGTH), UTF8.encode(instanceId));
}

/**
 * True when the document comes from an enclave in debug mode: its PCR0 is all zero (AWS Nitro
 * Enclaves User Guide, "Debug mode"; real debug documents also zero PCR1/2 but keep PCR3/4).
 */
export function isDebugDocument(doc: Pick<AttestationDocument, 'pcrs'>): boolean {
  const pcr0 = doc.pcrs.get(0);
  return pcr0 !== undefined && pcr0.every((b) => b === 0);
}
