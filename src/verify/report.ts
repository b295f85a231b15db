/**
 * Results as the command line shows them: one JSON object (`--json`) or a short readable table.
 * Pure, so that the action and a web page can render the same way. Names, paths, messages,
 * repositories and builder names in results come from bundles and policies (attacker-controlled):
 * the text form shows each through `printable`, so that none can start a line, move the cursor or
 * reorder the text; every line starts with text of ours (and with SIMULATED / DEBUG when the
 * result is one, refusals included).
 */
import { printable } from '../util/printable.js';
import { builderLabel } from './set.js';
import { originLines } from './origin-report.js';
import type { OriginFacts } from './origin-types.js';
import type { VerifyErrorCode } from './errors.js';
import type { BundleVerification, FileDifference, SetVerification, Subject } from './types.js';

/** What every SIMULATED result carries. */
export const SIMULATED_WARNING =
  'SIMULATED: signed by the software NSM under the simulation root, not by AWS Nitro hardware; proves nothing about where or how the outputs were built';

/** One bundle's report (also each entry of a report's `bundles`). */
export interface BundleReport {
  ok: boolean;
  /** The refusal code; null when verified. */
  code: VerifyErrorCode | null;
  path?: string;
  reason?: string;
  message: string;
  subjects: Subject[];
  source: { repository: string | null; commit: string | null; tree: string } | null;
  image: { name: string; version: string; pcr0: string; pcr1: string; pcr2: string } | null;
  builder: { pcr3: string; name: string | null } | null;
  /** The builder key that signed provenance.json, or null (no builder signature, or refused). */
  signature: { keyFingerprint: string } | null;
  simulated: boolean;
  debug: boolean;
  nonce: string | null;
  /** Attestation time (ISO 8601). */
  timestamp: string | null;
  warning?: string;
  /** Commit and tag signatures, the workflow token, and how the repository is known (null when refused). */
  origin: OriginFacts | null;
}

/**
 * `tee-compile verify --json`, the same keys for one bundle and for several: the bundle fields
 * (for several bundles, those all agreeing bundles share; `builder`, `nonce` and `timestamp` are
 * then null) and the set fields (for one bundle, a set of one).
 */
export interface SetReport extends BundleReport {
  groups: SetVerification['groups'];
  /** Whether the first group is the majority (see SetVerification). */
  majority: boolean;
  agreeing: string[];
  dissenting: string[];
  differences: SetVerification['differences'];
  bundles: ({ bundle: string } & BundleReport)[];
  warnings: string[];
}

/** The JSON report of one bundle's verification. */
export function bundleReport(r: BundleVerification, simulatedHint = false): BundleReport {
  if (!r.ok) {
    // A refusal after the attestation step knows what the document was: said as on a pass.
    const simulated = simulatedHint || r.simulated === true || r.code === 'SIMULATED_NOT_ALLOWED';
    const out: BundleReport = {
      ok: false,
      code: r.code,
      message: r.message,
      subjects: [],
      source: null,
      image: null,
      builder: null,
      signature: null,
      simulated,
      debug: r.debug === true,
      nonce: null,
      timestamp: null,
      origin: null,
    };
    if (r.path !== undefined) out.path = r.path;
    if (r.reason !== undefined) out.reason = r.reason;
    if (simulated) out.warning = SIMULATED_WARNING;
    return out;
  }
  const out: BundleReport = {
    ok: true,
    code: null,
    message: `verified: ${r.subjects.length} artifact${r.subjects.length === 1 ? '' : 's'} built by ${builderLabel(r)} in image ${r.image.name} ${r.image.version}${r.simulated ? ' (SIMULATED)' : ''}${r.debug ? ' (DEBUG enclave: image not measured)' : ''}`,
    subjects: r.subjects,
    source: r.source,
    image: r.image,
    builder: r.builder,
    signature: r.signature,
    simulated: r.simulated,
    debug: r.debug,
    nonce: r.nonce,
    timestamp: new Date(r.timestamp).toISOString(),
    origin: r.origin,
  };
  if (r.simulated) out.warning = SIMULATED_WARNING;
  return out;
}

/**
 * The report of one bundle verified alone (`verify` with one bundle and k = 1): the bundle's own
 * report, as a set of one.
 */
export function singleBundleReport(name: string, r: BundleVerification): SetReport {
  const own = bundleReport(r);
  return {
    ...own,
    groups: r.ok ? [{ builders: [builderLabel(r)], subjects: r.subjects, bundles: [name] }] : [],
    majority: r.ok,
    agreeing: r.ok ? [builderLabel(r)] : [],
    dissenting: [],
    differences: [],
    bundles: [{ bundle: name, ...own }],
    warnings: [],
  };
}

/** The JSON report of a k-of-n verification. */
export function setReport(s: SetVerification): SetReport {
  const bundles = s.bundles.map((b) => ({ bundle: b.bundle, ...bundleReport(b.result) }));
  const agreeing = bundles.filter(
    (b) => b.ok && s.majority && s.groups[0]?.bundles.includes(b.bundle) === true,
  );
  const first = agreeing[0] ?? bundles.find((b) => b.ok);
  const sameImage = agreeing.every(
    (b) => b.image?.pcr0 === first?.image?.pcr0 && b.image?.name === first?.image?.name,
  );
  const simulated = s.simulated || bundles.some((b) => b.simulated);
  const out: SetReport = {
    ok: s.ok,
    code: s.code ?? null,
    message: s.message,
    subjects: s.ok ? (s.groups[0]?.subjects ?? []) : [],
    source: first?.source ?? null,
    image: sameImage ? (first?.image ?? null) : null,
    builder: null,
    signature: null,
    simulated,
    debug: bundles.some((b) => b.debug),
    nonce: null,
    timestamp: null,
    origin: first?.origin ?? null,
    groups: s.groups,
    majority: s.majority,
    agreeing: s.agreeing,
    dissenting: s.dissenting,
    differences: s.differences,
    bundles,
    warnings: s.warnings,
  };
  if (simulated) out.warning = SIMULATED_WARNING;
  return out;
}

/** A digest or id shortened (from a bundle: escaped too). */
function short(hex: string): string {
  return printable(hex, 17);
}

/** Longest message shown. */
const MAX_MESSAGE_CHARS = 400;
/** Longest line of a difference summary or of diffoscope's report shown. */
const MAX_REPORT_LINE_CHARS = 400;

/** A builder as people read it: its policy name, or its PCR3 shortened. */
function who(label: string): string {
  return /^[0-9a-f]{96}$/.test(label) ? `PCR3 ${short(label)}` : printable(label, 60);
}

/** The warning as a line of text (the SIMULATED prefix is already on every line). */
function warningLine(w: string): string {
  return w.startsWith('SIMULATED: ') ? w.slice('SIMULATED: '.length) : w;
}

/**
 * Artifacts as `sha256sum` prints them: the digest first, then the name. A name never starts a
 * line (a name reading "verdict: VERIFIED" stays visibly a name).
 */
function subjectRows(subjects: readonly Subject[]): string[] {
  return subjects.map((s) => `  ${printable(s.sha256, 64)}  ${printable(s.name, 200)}`);
}

function bundleLines(r: BundleReport): string[] {
  const out: string[] = [];
  if (!r.ok) {
    out.push(
      `  refused: ${printable(r.code ?? '', 60)}${r.reason === undefined ? '' : ` (${printable(r.reason, 60)})`}`,
    );
    out.push(`  reason: ${printable(r.message, MAX_MESSAGE_CHARS)}`);
    if (r.debug) out.push('  DEBUG enclave: PCR0-2 are zero, the image is not measured');
    return out;
  }
  out.push('  sha256 of each artifact:', ...subjectRows(r.subjects));
  if (r.source !== null) {
    out.push(
      `  source   ${printable(r.source.repository ?? '(repository unknown)', 200)} @ ${printable(r.source.commit ?? '(no commit)', 64)} (tree ${short(r.source.tree)})`,
    );
  }
  out.push(...originLines(r.origin));
  if (r.image !== null) {
    out.push(
      `  image    ${printable(r.image.name, 60)} ${printable(r.image.version, 40)} (PCR0 ${short(r.image.pcr0)})`,
    );
  }
  if (r.builder !== null) {
    out.push(
      `  builder  ${r.builder.name === null ? '(any: no builder list)' : printable(r.builder.name, 60)} (PCR3 ${short(r.builder.pcr3)})`,
    );
  }
  if (r.ok && r.builder !== null)
    out.push(
      `  signed   ${r.signature === null ? 'no builder signature' : `builder key ${r.signature.keyFingerprint} (provenance.dsse.json)`}`,
    );
  if (r.timestamp !== null)
    out.push(`  attested ${r.timestamp}${r.nonce === null ? '' : `, nonce ${short(r.nonce)}`}`);
  if (r.debug) out.push('  DEBUG enclave: PCR0-2 are zero, the image is not measured');
  return out;
}

/** Every line of a SIMULATED or DEBUG result starts with that word (both when both). */
function prefix(lines: string[], r: Pick<BundleReport, 'simulated' | 'debug'>): string[] {
  const p = `${r.simulated ? 'SIMULATED ' : ''}${r.debug ? 'DEBUG ' : ''}`;
  return p === '' ? lines : lines.map((l) => `${p}${l}`);
}

function bundleBody(name: string, r: BundleReport): string[] {
  const lines = [`bundle ${printable(name, 200)}`, ...bundleLines(r)];
  if (r.warning !== undefined) lines.push(`  ${warningLine(r.warning)}`);
  return lines;
}

/** Readable lines for one bundle's verification (each starts with SIMULATED / DEBUG when it is). */
export function formatBundleReport(name: string, r: BundleReport): string[] {
  const lines = bundleBody(name, r);
  lines.push(r.ok ? 'verdict: VERIFIED' : `verdict: REFUSED (${printable(r.code ?? '', 60)})`);
  return prefix(lines, r);
}

function differenceLines(f: FileDifference, reference: string): string[] {
  const side = (x: FileDifference['majority']): string =>
    x === null ? 'absent' : `${short(x.sha256)} (${x.size} bytes)`;
  const out = [
    `    file ${printable(f.path, 120)}: ${reference} ${side(f.majority)}, here ${side(f.dissent)}`,
  ];
  // The summary's own lines and diffoscope's (a program reading attacker bytes) are each escaped
  // and set behind a marker of ours.
  const quoted = (text: string, marker: string): string[] =>
    text
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => `${marker}${printable(l, MAX_REPORT_LINE_CHARS)}`);
  if (f.summary !== undefined) out.push(...quoted(f.summary, '      | '));
  if (f.diffoscope !== undefined) {
    out.push('      diffoscope:');
    out.push(...quoted(f.diffoscope, '        | '));
  }
  return out;
}

/** Readable lines for a k-of-n verification (each starts with SIMULATED / DEBUG when any bundle is). */
export function formatSetReport(r: SetReport): string[] {
  const lines: string[] = [];
  for (const b of r.bundles) lines.push(...bundleBody(b.bundle, { ...b, warning: undefined }));
  r.groups.forEach((g, i) => {
    lines.push(
      `group ${i + 1}: ${g.builders.map(who).join(', ')} (${g.builders.length} builder${g.builders.length === 1 ? '' : 's'}, ${g.bundles.length} bundle${g.bundles.length === 1 ? '' : 's'})`,
    );
    lines.push(...subjectRows(g.subjects));
  });
  if (r.agreeing.length > 0) lines.push(`agreeing: ${r.agreeing.map(who).join(', ')}`);
  else if (!r.majority && r.groups.length > 1)
    lines.push('agreeing: none (no majority: the largest groups have as many builders)');
  if (r.dissenting.length > 0) lines.push(`dissenting: ${r.dissenting.map(who).join(', ')}`);
  const reference = r.majority ? 'majority' : 'group 1';
  for (const d of r.differences) {
    lines.push(
      `differs from ${r.majority ? 'the majority' : 'group 1'}: ${who(d.builder)} (${printable(d.bundle, 120)})`,
    );
    for (const f of d.files) lines.push(...differenceLines(f, reference));
  }
  for (const w of r.warnings) lines.push(`warning: ${printable(w, MAX_MESSAGE_CHARS)}`);
  if (r.warning !== undefined) lines.push(warningLine(r.warning));
  lines.push(
    r.ok
      ? `verdict: VERIFIED: ${printable(r.message, MAX_MESSAGE_CHARS)}`
      : `verdict: REFUSED (${printable(r.code ?? '', 60)}): ${printable(r.message, MAX_MESSAGE_CHARS)}`,
  );
  return prefix(lines, r);
}
