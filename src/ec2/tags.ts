/**
 * The tags that mark an instance (and its volumes) as a tee-compile builder, and its runner label.
 * Stop and sweep act only on instances that carry them; the IAM policy in docs/ec2.md is scoped to
 * them too.
 */
import { randomBytes } from 'node:crypto';

export const TAG_REPOSITORY = 'tee-compile:repository';
export const TAG_RUN = 'tee-compile:run';
export const TAG_EXPIRES_AT = 'tee-compile:expires-at';
export const TAG_LABEL = 'tee-compile:label';
/** Every label (and runner name) starts with this. */
export const LABEL_PREFIX = 'tee-compile-';
const LABEL = /^tee-compile-[0-9a-f]{16}$/;

/** A fresh, unique runner label (also the runner's name and the launch's idempotency token). */
export function newLabel(random: (n: number) => Uint8Array = randomBytes): string {
  return LABEL_PREFIX + Buffer.from(random(8)).toString('hex');
}

/** True for a label this module makes. */
export function isOurLabel(s: string): boolean {
  return LABEL.test(s);
}

/** The tags of one builder. */
export function builderTags(o: {
  repository: string;
  run: string;
  expiresAt: Date;
  label: string;
}): { Key: string; Value: string }[] {
  return [
    { Key: 'Name', Value: o.label },
    { Key: TAG_REPOSITORY, Value: o.repository },
    { Key: TAG_RUN, Value: o.run },
    { Key: TAG_EXPIRES_AT, Value: o.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
    { Key: TAG_LABEL, Value: o.label },
  ];
}

/** The tags of an instance as a map. */
export function tagMap(
  tags: readonly { Key?: string; Value?: string }[] | undefined,
): Map<string, string> {
  const m = new Map<string, string>();
  for (const t of tags ?? []) if (t.Key !== undefined) m.set(t.Key, t.Value ?? '');
  return m;
}

/**
 * The expiry of a tagged instance, or null when it is not ours (no expires-at or label tag, or a
 * value that is not a time): such an instance is never touched.
 */
export function expiryOf(tags: Map<string, string>): Date | null {
  const v = tags.get(TAG_EXPIRES_AT);
  const label = tags.get(TAG_LABEL);
  if (v === undefined || label === undefined || !isOurLabel(label)) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(v)) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}
