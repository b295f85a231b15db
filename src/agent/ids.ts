import { randomBytes, randomUUID } from 'node:crypto';

/** Job ids are random UUIDs made by the agent; only this exact form is ever used in a path. */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Bytes of a nonce the agent makes when the request has none. */
export const AGENT_NONCE_BYTES = 32;

/** A new job id. */
export function newJobId(): string {
  return randomUUID();
}

/** True when `s` has the exact form of a job id (checked on every route before any file access). */
export function isJobId(s: string): boolean {
  return JOB_ID.test(s);
}

/** A fresh nonce (hex) for a request that did not send one. */
export function newNonce(): string {
  return randomBytes(AGENT_NONCE_BYTES).toString('hex');
}
