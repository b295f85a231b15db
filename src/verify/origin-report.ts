/**
 * The origin as people read it in the report: who signed the commit and the tag, which workflow
 * asked for the build, and whether the repository is verified or only a label. Values come from
 * bundles (attacker-controlled) and are escaped.
 */
import { printable } from '../util/printable.js';
import type { OriginFacts, SignatureFacts } from './origin-types.js';

function signed(what: string, s: SignatureFacts | null): string {
  if (s === null) return `${what} not signed`;
  if (s.status === 'trusted')
    return `${what} signed by ${printable(s.signer ?? '', 120)} (${printable(s.key, 120)})`;
  if (s.status === 'untrusted')
    return `${what} signed by an untrusted key (${printable(s.key, 120)}): ${printable(s.reason ?? '', 200)}`;
  return `${what} signature INVALID (${printable(s.key, 120)}): ${printable(s.reason ?? '', 200)}`;
}

/** Readable lines of a verified bundle's origin (indented like the rest of a bundle's lines). */
export function originLines(o: OriginFacts | null): string[] {
  if (o === null) return [];
  const out: string[] = [];
  if (o.tag !== null)
    out.push(
      `  tag      ${printable(o.tag.name, 120)} (object ${o.tag.id}) names commit ${o.commit?.id ?? '?'}; ${signed('tag', o.tag.signature)}`,
    );
  if (o.commit !== null)
    out.push(`  commit   ${o.commit.id}: ${signed('commit', o.commit.signature)}`);
  const w = o.workflow;
  if (w !== null) {
    out.push(
      `  workflow ${printable(w.workflow_ref ?? '(no workflow_ref)', 200)} run ${printable(w.run_id ?? '?', 30)} attempt ${printable(w.run_attempt ?? '?', 10)} (${printable(w.event_name ?? '?', 40)}, ${printable(w.runner_environment ?? '?', 40)} runner)`,
    );
    out.push(
      `  repository ${printable(o.repository.url ?? '?', 200)} (id ${printable(w.repository_id ?? '?', 30)}, ref ${printable(w.ref ?? '?', 120)}): verified by GitHub's OIDC token (key ${printable(w.kid, 80)}, issued ${w.issuedAt})`,
    );
  } else {
    out.push(
      `  repository ${o.repository.url === null ? '(none)' : printable(o.repository.url, 200)}: an unverified label (no workflow token)`,
    );
  }
  return out;
}
